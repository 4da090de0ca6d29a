//! The chat room: the smallest real REx app.
//!
//! Messages: `say {text}`, `whisper {to, text}`, `rename {name}`.
//! Events: `joined {session, name}`, `said {from, text}`,
//! `whispered {from, to, text}` (private to sender and recipient),
//! `renamed {session, name}`.
//!
//! The protocol is two derived enums; the app implements the generated
//! `ChatMsgHandler` trait, one method per message kind. The app is
//! [`Durable`]: with a data directory, a restarted room knows who is in it
//! and by what name (what was said is in the log).

use std::collections::HashMap;

use rex::{Context, Durable, Reject, RexApp, RexEvent, RexMessage, SessionId};

/// The longest chat line the room accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// What a phone can say to the room: the chat protocol, whose events are
/// [`ChatEvent`]s.
#[derive(Clone, Debug, PartialEq, Eq, RexMessage)]
#[rex(app = "chat", events = ChatEvent, schema)]
pub enum ChatMsg {
    /// Say something to the whole room.
    Say {
        /// What to say; must not be empty.
        text: String,
    },
    /// Say something to one session only.
    Whisper {
        /// Who hears it.
        to: SessionId,
        /// What to say; must not be empty.
        text: String,
    },
    /// Change your display name.
    Rename {
        /// The new name; must not be empty.
        name: String,
    },
}

/// What the room shows.
#[derive(Clone, Debug, PartialEq, Eq, RexEvent)]
#[rex(schema)]
pub enum ChatEvent {
    /// A session joined.
    Joined {
        /// Who joined.
        session: SessionId,
        /// Their display name.
        name: String,
    },
    /// Someone said something to the room.
    Said {
        /// Who said it.
        from: SessionId,
        /// What they said.
        text: String,
    },
    /// A whisper; private to `from` and `to`.
    Whispered {
        /// Who whispered.
        from: SessionId,
        /// Who it was for.
        to: SessionId,
        /// What they whispered.
        text: String,
    },
    /// Someone changed their name.
    Renamed {
        /// Who.
        session: SessionId,
        /// Their new name.
        name: String,
    },
}

/// The chat room's state: who is here, by what name.
#[derive(Debug, Default)]
pub struct ChatApp {
    names: HashMap<SessionId, String>,
}

impl ChatApp {
    /// The display name of a session, if it joined.
    pub fn name_of(&self, session: SessionId) -> Option<&str> {
        self.names.get(&session).map(String::as_str)
    }
}

fn check_text(what: &str, text: &str) -> Result<(), Reject> {
    if text.trim().is_empty() {
        return Err(Reject::new(format!(
            "{what} is empty; type something first"
        )));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(Reject::new(format!(
            "{what} is {chars} characters long; the limit is {MAX_TEXT_CHARS}"
        )));
    }
    Ok(())
}

impl RexApp for ChatApp {
    type Protocol = ChatMsg;

    fn join(
        &mut self,
        cx: &mut Context<'_, Self>,
        session: SessionId,
        name: Option<String>,
    ) -> Result<(), Reject> {
        let name = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("guest-{}", &session.to_string()[..4]));
        self.names.insert(session, name.clone());
        cx.emit(ChatEvent::Joined { session, name });
        Ok(())
    }
}

/// Who is here and by what name is all the room is; the server saves it
/// with every commit and a restarted room puts it back.
impl Durable for ChatApp {
    type State = HashMap<SessionId, String>;

    fn state(&self) -> &Self::State {
        &self.names
    }

    fn restore(&mut self, _: &mut Context<'_, Self>, names: Self::State) {
        self.names = names;
    }
}

impl ChatMsgHandler for ChatApp {
    fn say(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        text: String,
    ) -> Result<(), Reject> {
        check_text("the message", &text)?;
        cx.emit(ChatEvent::Said { from, text });
        Ok(())
    }

    fn whisper(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        to: SessionId,
        text: String,
    ) -> Result<(), Reject> {
        check_text("the whisper", &text)?;
        if !self.names.contains_key(&to) {
            return Err(Reject::new(format!(
                "nobody in this room has session id {to}"
            )));
        }
        cx.emit_to([from, to], ChatEvent::Whispered { from, to, text });
        Ok(())
    }

    fn rename(
        &mut self,
        cx: &mut Context<'_, Self>,
        from: SessionId,
        name: String,
    ) -> Result<(), Reject> {
        check_text("the name", &name)?;
        self.names.insert(from, name.clone());
        cx.emit(ChatEvent::Renamed {
            session: from,
            name,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rex::testing::TestRoom;
    use serde_json::json;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_restarted_room_knows_everyone_by_name() {
        let mut room = TestRoom::durable(ChatApp::default());
        let ada = room.join("Ada").unwrap();
        let bob = room.join("Bob").unwrap();
        room.send(bob, ChatMsg::Rename { name: "Rob".into() })
            .unwrap();
        room.send_with_id(ada, 7, ChatMsg::Say { text: "hi".into() })
            .unwrap();
        let (epoch, head) = (room.epoch(), room.head());

        let mut room = room.restart_after(ChatApp::default(), Duration::from_secs(30));
        assert_eq!((room.epoch(), room.head()), (epoch, head));
        assert_eq!(room.app().name_of(ada), Some("Ada"));
        assert_eq!(room.app().name_of(bob), Some("Rob"));
        // A whisper to a member checks the restored names.
        let whispered = room
            .send(
                ada,
                ChatMsg::Whisper {
                    to: bob,
                    text: "psst".into(),
                },
            )
            .unwrap();
        assert_eq!(whispered[0].to, Some(sorted([ada, bob])));
        // A retried message is not said twice.
        let retried = room
            .send_with_id(ada, 7, ChatMsg::Say { text: "hi".into() })
            .unwrap();
        assert_eq!(retried[0].index, head - 1);
        assert_eq!(room.head(), head + 1);
    }

    fn sorted(mut ids: [SessionId; 2]) -> Vec<SessionId> {
        ids.sort();
        ids.to_vec()
    }

    #[test]
    fn messages_round_trip_through_kind_and_data() {
        let to = SessionId::new_random();
        for msg in [
            ChatMsg::Say { text: "hi".into() },
            ChatMsg::Whisper {
                to,
                text: "psst".into(),
            },
            ChatMsg::Rename { name: "Bob".into() },
        ] {
            let data = msg.encode_data().unwrap();
            assert_eq!(ChatMsg::decode(msg.kind(), data).unwrap(), msg);
        }
    }

    #[test]
    fn events_round_trip_and_ignore_unknown_fields() {
        let s = SessionId::new_random();
        let event = ChatEvent::Said {
            from: s,
            text: "hi".into(),
        };
        let mut data = event.encode_data().unwrap().unwrap();
        data["mood"] = json!("cheerful");
        assert_eq!(ChatEvent::decode("said", Some(data)).unwrap(), event);
    }

    #[test]
    fn message_decoding_errors_name_the_problem() {
        let err = ChatMsg::decode("yell", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown kind `yell`; expected one of: say, whisper, rename"
        );
        let err = ChatMsg::decode("say", Some(json!({"text": 1}))).unwrap_err();
        assert!(err.to_string().contains("field `text`"), "{err}");
        let err = ChatMsg::decode("whisper", Some(json!({"to": "x", "text": "a"}))).unwrap_err();
        assert!(err.to_string().contains("field `to`"), "{err}");
    }
}
