// The expansion of the sample protocol in rex-macros/src/snapshot.rs.
// Regenerate: REX_SNAPSHOT=overwrite cargo test -p rex-macros

// ===== #[derive(RexMessage)] on ChatMsg =====

const _: () = {
    #[automatically_derived]
    impl ::rex::__private::RexMessage for ChatMsg {
        const KINDS: &'static [&'static str] = &["say", "whisper", "rename", "leave"];
        fn kind(&self) -> &'static str {
            match self {
                ChatMsg::Say { .. } => "say",
                ChatMsg::Whisper { .. } => "whisper",
                ChatMsg::SetName(..) => "rename",
                ChatMsg::Leave => "leave",
            }
        }
        fn encode_data(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::rex::__private::Value>,
            ::rex::__private::EncodeError,
        > {
            match self {
                ChatMsg::Say { text } => {
                    ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::DataEncoder::new("say")
                                .field("text", text)?
                                .finish(),
                        ),
                    )
                }
                ChatMsg::Whisper { to, text } => {
                    ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::DataEncoder::new("whisper")
                                .field("to", to)?
                                .field("text", text)?
                                .finish(),
                        ),
                    )
                }
                ChatMsg::SetName(value) => {
                    ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::EncodeError::encode("rename", value)?,
                        ),
                    )
                }
                ChatMsg::Leave => {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
            }
        }
        fn write_data(
            &self,
            out: &mut ::rex::__private::Vec<u8>,
        ) -> ::core::result::Result<bool, ::rex::__private::EncodeError> {
            let _ = &out;
            match self {
                ChatMsg::Say { text } => {
                    ::core::result::Result::Ok(
                        ::rex::__private::DataWriter::new("say", out)
                            .field("text", text)?
                            .finish(),
                    )
                }
                ChatMsg::Whisper { to, text } => {
                    ::core::result::Result::Ok(
                        ::rex::__private::DataWriter::new("whisper", out)
                            .field("to", to)?
                            .field("text", text)?
                            .finish(),
                    )
                }
                ChatMsg::SetName(value) => {
                    ::rex::__private::EncodeError::write("rename", value, out)?;
                    ::core::result::Result::Ok(true)
                }
                ChatMsg::Leave => ::core::result::Result::Ok(false),
            }
        }
        fn decode_json(
            kind: &str,
            data: ::core::option::Option<&str>,
        ) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
            let fast: ::core::option::Option<Self> = match kind {
                "say" => {
                    #[derive(::rex::__private::serde::Deserialize)]
                    #[serde(crate = "::rex::__private::serde", deny_unknown_fields)]
                    struct __RexFields {
                        #[serde(rename = "text")]
                        text: String,
                    }
                    data.and_then(|text| {
                            ::rex::__private::serde_json::from_str::<__RexFields>(text)
                                .ok()
                        })
                        .map(|__RexFields { text }| ChatMsg::Say { text })
                }
                "whisper" => {
                    #[derive(::rex::__private::serde::Deserialize)]
                    #[serde(crate = "::rex::__private::serde", deny_unknown_fields)]
                    struct __RexFields {
                        #[serde(rename = "to")]
                        to: SessionId,
                        #[serde(rename = "text")]
                        text: String,
                    }
                    data.and_then(|text| {
                            ::rex::__private::serde_json::from_str::<__RexFields>(text)
                                .ok()
                        })
                        .map(|__RexFields { to, text }| ChatMsg::Whisper { to, text })
                }
                "rename" => {
                    data.and_then(|text| {
                            ::rex::__private::serde_json::from_str::<String>(text).ok()
                        })
                        .map(ChatMsg::SetName)
                }
                "leave" if data.is_none() => ::core::option::Option::Some(ChatMsg::Leave),
                _ => ::core::option::Option::None,
            };
            match fast {
                ::core::option::Option::Some(message) => {
                    ::core::result::Result::Ok(message)
                }
                ::core::option::Option::None => {
                    <Self as ::rex::__private::RexMessage>::decode(
                        kind,
                        ::rex::__private::DataObject::parse(kind, data)?,
                    )
                }
            }
        }
        fn decode(
            kind: &str,
            data: ::core::option::Option<::rex::__private::Value>,
        ) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
            match kind {
                "say" => {
                    let mut fields = ::rex::__private::DataObject::new(kind, data)?;
                    let value = ChatMsg::Say {
                        text: fields.field("text")?,
                    };
                    fields.deny_unknown(&["text"])?;
                    ::core::result::Result::Ok(value)
                }
                "whisper" => {
                    let mut fields = ::rex::__private::DataObject::new(kind, data)?;
                    let value = ChatMsg::Whisper {
                        to: fields.field("to")?,
                        text: fields.field("text")?,
                    };
                    fields.deny_unknown(&["to", "text"])?;
                    ::core::result::Result::Ok(value)
                }
                "rename" => {
                    ::core::result::Result::Ok(
                        ChatMsg::SetName(
                            ::rex::__private::DataObject::decode_value(kind, data)?,
                        ),
                    )
                }
                "leave" => {
                    ::rex::__private::DataObject::expect_none(kind, data)?;
                    ::core::result::Result::Ok(ChatMsg::Leave)
                }
                _ => {
                    ::core::result::Result::Err(
                        ::rex::__private::DecodeError::unknown_kind(
                            kind,
                            <Self as ::rex::__private::RexMessage>::KINDS,
                        ),
                    )
                }
            }
        }
    }
};

// ::rex::__private::with_schema! { … }: present when rex's `schema` feature is on (without it, a compile error saying so)
const _: () = {
    #[automatically_derived]
    impl ::rex::__private::Describe for ChatMsg {
        fn describe(
            generator: &mut ::rex::__private::schemars::SchemaGenerator,
        ) -> ::rex::__private::Vec<::rex::__private::KindSchema> {
            #[allow(unused_imports)]
            use ::core::convert::Into as _;
            #[derive(::rex::__private::schemars::JsonSchema)]
            #[schemars(crate = "::rex::__private::schemars", inline)]
            #[schemars(deny_unknown_fields)]
            #[schemars(description = "Say something to the whole room.")]
            #[allow(dead_code, non_camel_case_types)]
            struct __RexDataSay {
                text: String,
            }
            #[derive(::rex::__private::schemars::JsonSchema)]
            #[schemars(crate = "::rex::__private::schemars", inline)]
            #[schemars(deny_unknown_fields)]
            #[schemars(description = "Say something to one player only.")]
            #[allow(dead_code, non_camel_case_types)]
            struct __RexDataWhisper {
                to: SessionId,
                text: String,
            }
            <::rex::__private::Vec<
                ::rex::__private::KindSchema,
            > as ::core::convert::From<
                [::rex::__private::KindSchema; 4usize],
            >>::from([
                ::rex::__private::KindSchema::new(
                    "say",
                    "Say something to the whole room.",
                    generator.subschema_for::<__RexDataSay>(),
                ),
                ::rex::__private::KindSchema::new(
                    "whisper",
                    "Say something to one player only.",
                    generator.subschema_for::<__RexDataWhisper>(),
                ),
                ::rex::__private::KindSchema::new(
                    "rename",
                    "Change your display name.",
                    generator.subschema_for::<String>(),
                ),
                ::rex::__private::KindSchema::unit("leave", "Leave the room."),
            ])
        }
    }
};

const _: () = {
    #[automatically_derived]
    impl ::rex::__private::Protocol for ChatMsg {
        const APP: &'static str = "chat";
        type Event = ChatEvent;
        ::rex::__private::if_schema! {
            fn schema() -> ::core::option::Option < ::rex::__private::ProtocolSchema > {
            let snapshot = { ::core::option::Option::None };
            ::core::option::Option::Some(::rex::__private::ProtocolSchema::generate:: <
            Self > (snapshot),) }
        }
    }
};

// ::rex::__private::if_server! { … }: present when rex's `server` feature is on
/**Handles [`ChatMsg`] messages on the server, one method per kind.

Implement it for an app whose `RexApp::Protocol` is `ChatMsg`: the server routes every message to the method of its kind. Each method gets the session that sent the message; return `Err(Reject::new("…"))` to refuse it.*/
#[allow(dead_code)]
pub trait ChatMsgHandler: ::rex::__private::RexApp<Protocol = ChatMsg> {
    /// Say something to the whole room.
    #[allow(clippy::too_many_arguments)]
    fn say(
        &mut self,
        cx: &mut ::rex::__private::Context<'_, Self>,
        from: ::rex::__private::SessionId,
        text: String,
    ) -> ::core::result::Result<(), ::rex::__private::Reject>;
    /// Say something to one player only.
    #[allow(clippy::too_many_arguments)]
    fn whisper(
        &mut self,
        cx: &mut ::rex::__private::Context<'_, Self>,
        from: ::rex::__private::SessionId,
        to: SessionId,
        text: String,
    ) -> ::core::result::Result<(), ::rex::__private::Reject>;
    /// Change your display name.
    #[allow(clippy::too_many_arguments)]
    fn set_name(
        &mut self,
        cx: &mut ::rex::__private::Context<'_, Self>,
        from: ::rex::__private::SessionId,
        value: String,
    ) -> ::core::result::Result<(), ::rex::__private::Reject>;
    /// Leave the room.
    #[allow(clippy::too_many_arguments)]
    fn leave(
        &mut self,
        cx: &mut ::rex::__private::Context<'_, Self>,
        from: ::rex::__private::SessionId,
    ) -> ::core::result::Result<(), ::rex::__private::Reject>;
}
#[automatically_derived]
impl<__RexApp: ChatMsgHandler> ::rex::__private::Dispatch<__RexApp> for ChatMsg {
    fn dispatch(
        self,
        app: &mut __RexApp,
        cx: &mut ::rex::__private::Context<'_, __RexApp>,
        from: ::rex::__private::SessionId,
    ) -> ::core::result::Result<(), ::rex::__private::Reject> {
        match self {
            ChatMsg::Say { text } => {
                <__RexApp as ChatMsgHandler>::say(app, cx, from, text)
            }
            ChatMsg::Whisper { to, text } => {
                <__RexApp as ChatMsgHandler>::whisper(app, cx, from, to, text)
            }
            ChatMsg::SetName(value) => {
                <__RexApp as ChatMsgHandler>::set_name(app, cx, from, value)
            }
            ChatMsg::Leave => <__RexApp as ChatMsgHandler>::leave(app, cx, from),
        }
    }
}

// ::rex::__private::if_client! { … }: present when rex's `client` feature is on
/**A client of the [`ChatMsg`] protocol with one sending method per message kind.

Each method sends its message and waits until the app has handled it, retrying on network failures without the app handling it twice; it returns the `Receipt`, or the app's refusal as `ClientError::Rejected`. Everything else of `rex::Client<ChatMsg>` (events, snapshots, the session) is reachable through `Deref`. Build one with `ChatMsgClient::builder(url)` or `ChatMsgClient::connect(url)` (also `rex::TypedClient` methods).*/
#[allow(dead_code)]
#[derive(::core::clone::Clone, ::core::fmt::Debug)]
pub struct ChatMsgClient {
    client: ::rex::__private::Client<ChatMsg>,
}
#[allow(dead_code)]
impl ChatMsgClient {
    /// Starts configuring a client for the server at `endpoint` (a
    /// URL such as `"http://192.168.1.20:7700"`, a room found by
    /// discovery, or a socket address).
    pub fn builder(
        endpoint: impl ::rex::__private::IntoEndpoint,
    ) -> ::rex::__private::ClientBuilder<Self> {
        <Self as ::rex::__private::TypedClient>::builder(endpoint)
    }
    /// Connects to the server at `endpoint` with a new session with
    /// no name and the default settings.
    pub async fn connect(
        endpoint: impl ::rex::__private::IntoEndpoint,
    ) -> ::core::result::Result<Self, ::rex::__private::ClientError> {
        <Self as ::rex::__private::TypedClient>::builder(endpoint).connect().await
    }
    /// Say something to the whole room.
    #[allow(clippy::too_many_arguments)]
    pub fn say(
        &self,
        text: impl ::core::convert::Into<String>,
    ) -> impl ::core::future::Future<
        Output = ::core::result::Result<
            ::rex::__private::Receipt,
            ::rex::__private::ClientError,
        >,
    > + ::core::marker::Send + '_ {
        <::rex::__private::Client<
            ChatMsg,
        >>::send(
            &self.client,
            &ChatMsg::Say {
                text: ::core::convert::Into::into(text),
            },
        )
    }
    /// Say something to one player only.
    #[allow(clippy::too_many_arguments)]
    pub fn whisper(
        &self,
        to: impl ::core::convert::Into<SessionId>,
        text: impl ::core::convert::Into<String>,
    ) -> impl ::core::future::Future<
        Output = ::core::result::Result<
            ::rex::__private::Receipt,
            ::rex::__private::ClientError,
        >,
    > + ::core::marker::Send + '_ {
        <::rex::__private::Client<
            ChatMsg,
        >>::send(
            &self.client,
            &ChatMsg::Whisper {
                to: ::core::convert::Into::into(to),
                text: ::core::convert::Into::into(text),
            },
        )
    }
    /// Change your display name.
    #[allow(clippy::too_many_arguments)]
    pub fn set_name(
        &self,
        value: impl ::core::convert::Into<String>,
    ) -> impl ::core::future::Future<
        Output = ::core::result::Result<
            ::rex::__private::Receipt,
            ::rex::__private::ClientError,
        >,
    > + ::core::marker::Send + '_ {
        <::rex::__private::Client<
            ChatMsg,
        >>::send(&self.client, &ChatMsg::SetName(::core::convert::Into::into(value)))
    }
    /// Leave the room.
    #[allow(clippy::too_many_arguments)]
    pub fn leave(
        &self,
    ) -> impl ::core::future::Future<
        Output = ::core::result::Result<
            ::rex::__private::Receipt,
            ::rex::__private::ClientError,
        >,
    > + ::core::marker::Send + '_ {
        <::rex::__private::Client<ChatMsg>>::send(&self.client, &ChatMsg::Leave)
    }
}
#[automatically_derived]
impl ::rex::__private::TypedClient for ChatMsgClient {
    type Protocol = ChatMsg;
    fn from_client(client: ::rex::__private::Client<ChatMsg>) -> Self {
        ChatMsgClient { client }
    }
    fn client(&self) -> &::rex::__private::Client<ChatMsg> {
        &self.client
    }
}
#[automatically_derived]
impl ::core::ops::Deref for ChatMsgClient {
    type Target = ::rex::__private::Client<ChatMsg>;
    fn deref(&self) -> &::rex::__private::Client<ChatMsg> {
        &self.client
    }
}


// ===== #[derive(RexEvent)] on ChatEvent =====

const _: () = {
    #[automatically_derived]
    impl ::rex::__private::RexEvent for ChatEvent {
        const KINDS: &'static [&'static str] = &["joined", "said"];
        fn kind(&self) -> &'static str {
            match self {
                ChatEvent::Joined { .. } => "joined",
                ChatEvent::Said { .. } => "said",
            }
        }
        fn encode_data(
            &self,
        ) -> ::core::result::Result<
            ::core::option::Option<::rex::__private::Value>,
            ::rex::__private::EncodeError,
        > {
            match self {
                ChatEvent::Joined { session, name } => {
                    ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::DataEncoder::new("joined")
                                .field("session", session)?
                                .field("name", name)?
                                .finish(),
                        ),
                    )
                }
                ChatEvent::Said { from, text } => {
                    ::core::result::Result::Ok(
                        ::core::option::Option::Some(
                            ::rex::__private::DataEncoder::new("said")
                                .field("from", from)?
                                .field("text", text)?
                                .finish(),
                        ),
                    )
                }
            }
        }
        fn write_data(
            &self,
            out: &mut ::rex::__private::Vec<u8>,
        ) -> ::core::result::Result<bool, ::rex::__private::EncodeError> {
            let _ = &out;
            match self {
                ChatEvent::Joined { session, name } => {
                    ::core::result::Result::Ok(
                        ::rex::__private::DataWriter::new("joined", out)
                            .field("session", session)?
                            .field("name", name)?
                            .finish(),
                    )
                }
                ChatEvent::Said { from, text } => {
                    ::core::result::Result::Ok(
                        ::rex::__private::DataWriter::new("said", out)
                            .field("from", from)?
                            .field("text", text)?
                            .finish(),
                    )
                }
            }
        }
        fn decode(
            kind: &str,
            data: ::core::option::Option<::rex::__private::Value>,
        ) -> ::core::result::Result<Self, ::rex::__private::DecodeError> {
            match kind {
                "joined" => {
                    let mut fields = ::rex::__private::DataObject::new(kind, data)?;
                    let value = ChatEvent::Joined {
                        session: fields.field("session")?,
                        name: fields.field("name")?,
                    };
                    ::core::result::Result::Ok(value)
                }
                "said" => {
                    let mut fields = ::rex::__private::DataObject::new(kind, data)?;
                    let value = ChatEvent::Said {
                        from: fields.field("from")?,
                        text: fields.field("text")?,
                    };
                    ::core::result::Result::Ok(value)
                }
                _ => {
                    ::core::result::Result::Err(
                        ::rex::__private::DecodeError::unknown_kind(
                            kind,
                            <Self as ::rex::__private::RexEvent>::KINDS,
                        ),
                    )
                }
            }
        }
    }
};

// ::rex::__private::with_schema! { … }: present when rex's `schema` feature is on (without it, a compile error saying so)
const _: () = {
    #[automatically_derived]
    impl ::rex::__private::Describe for ChatEvent {
        fn describe(
            generator: &mut ::rex::__private::schemars::SchemaGenerator,
        ) -> ::rex::__private::Vec<::rex::__private::KindSchema> {
            #[allow(unused_imports)]
            use ::core::convert::Into as _;
            #[derive(::rex::__private::schemars::JsonSchema)]
            #[schemars(crate = "::rex::__private::schemars", inline)]
            #[schemars(description = "Somebody joined.")]
            #[allow(dead_code, non_camel_case_types)]
            struct __RexDataJoined {
                #[schemars(description = "Who joined.")]
                session: SessionId,
                name: String,
            }
            #[derive(::rex::__private::schemars::JsonSchema)]
            #[schemars(crate = "::rex::__private::schemars", inline)]
            #[schemars(description = "Somebody said something.")]
            #[allow(dead_code, non_camel_case_types)]
            struct __RexDataSaid {
                from: SessionId,
                text: String,
            }
            <::rex::__private::Vec<
                ::rex::__private::KindSchema,
            > as ::core::convert::From<
                [::rex::__private::KindSchema; 2usize],
            >>::from([
                ::rex::__private::KindSchema::new(
                    "joined",
                    "Somebody joined.",
                    generator.subschema_for::<__RexDataJoined>(),
                ),
                ::rex::__private::KindSchema::new(
                    "said",
                    "Somebody said something.",
                    generator.subschema_for::<__RexDataSaid>(),
                ),
            ])
        }
    }
};

// ::rex::__private::if_client! { … }: present when rex's `client` feature is on
/**Handles [`ChatEvent`] events on the client, one method per kind.

Every method does nothing by default: override the ones your UI shows, and feed each item of an `EventStream<ChatEvent>` to `handle`.*/
#[allow(dead_code)]
pub trait ChatEventHandler {
    /// Somebody joined.
    #[allow(clippy::too_many_arguments)]
    fn joined(
        &mut self,
        meta: &::rex::__private::EventMeta,
        session: SessionId,
        name: String,
    ) {
        let _ = (meta, session, name);
    }
    /// Somebody said something.
    #[allow(clippy::too_many_arguments)]
    fn said(
        &mut self,
        meta: &::rex::__private::EventMeta,
        from: SessionId,
        text: String,
    ) {
        let _ = (meta, from, text);
    }
    /// An event of a kind this client does not know (a newer server).
    fn unknown(
        &mut self,
        meta: &::rex::__private::EventMeta,
        kind: &str,
        data: ::core::option::Option<&::rex::__private::Value>,
    ) {
        let _ = (meta, kind, data);
    }
    /// The stream skipped to the server's head (a restart, or events
    /// dropped by retention): refetch what you show.
    fn resync(&mut self, resync: &::rex::__private::Resync) {
        let _ = resync;
    }
    /// The stream's connection opened or was lost (it reconnects by
    /// itself): show it if you like.
    fn connection(&mut self, state: &::rex::__private::Connection) {
        let _ = state;
    }
    /// Routes one item of an event stream to the method of its kind.
    fn handle(&mut self, item: ::rex::__private::StreamItem<ChatEvent>) {
        match item {
            ::rex::__private::StreamItem::Event(event) => {
                let meta = &event.meta;
                match event.event {
                    ChatEvent::Joined { session, name } => {
                        <Self as ChatEventHandler>::joined(self, meta, session, name)
                    }
                    ChatEvent::Said { from, text } => {
                        <Self as ChatEventHandler>::said(self, meta, from, text)
                    }
                }
            }
            ::rex::__private::StreamItem::Unknown { meta, kind, data } => {
                <Self as ChatEventHandler>::unknown(self, &meta, &kind, data.as_ref());
            }
            ::rex::__private::StreamItem::Resync(resync) => {
                <Self as ChatEventHandler>::resync(self, &resync);
            }
            ::rex::__private::StreamItem::Connection(state) => {
                <Self as ChatEventHandler>::connection(self, &state);
            }
        }
    }
}

