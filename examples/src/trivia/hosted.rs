//! Trivia as a hosted game (`cargo run --example trivia -- --host`): one
//! server ([`rex::Host`]) runs any number of trivia rooms at once, each
//! opened by a TV from the landing page and joined by its four-letter
//! code.
//!
//! A room's game is set by the body of `POST /rex/v0/rooms`
//! ([`GameSettings`]): `rounds` and `seconds`, each optional (the
//! server's own settings otherwise) and checked here, so a bad value
//! refuses the room with a reason (`409 rejected`). A hosted room closes
//! itself [`CLOSE_AFTER_GAME`] after its final standings.

use std::time::Duration;

use rex::{NewRoom, Reject};
use serde::{Deserialize, Serialize};

use super::{Question, TriviaApp, TriviaConfig};

/// How long a hosted room stays open after a game's final standings (so
/// the screens show them, and the host may start another game), before
/// it closes and its pages say the game has ended: 10 minutes.
pub const CLOSE_AFTER_GAME: Duration = Duration::from_secs(10 * 60);
/// The most questions a game may have (`--rounds`, `rounds`).
pub const MAX_ROUNDS: u32 = 1000;
/// The most seconds a question may stay open (`--seconds`, `seconds`).
pub const MAX_SECONDS: u32 = 600;

/// What a room's creator may choose, from the body of `POST
/// /rex/v0/rooms`: `{"rounds": 5, "seconds": 15}`. Other fields (but
/// `name`, the room's name) are refused, so a misspelt one is not
/// silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GameSettings {
    /// Questions per game, 1 to [`MAX_ROUNDS`].
    pub rounds: Option<u32>,
    /// Seconds to answer each question, 1 to [`MAX_SECONDS`].
    pub seconds: Option<u32>,
}

impl GameSettings {
    /// The game these settings make, the rest from `defaults`; a value out
    /// of range is refused with what would fit.
    pub fn config(&self, defaults: &TriviaConfig) -> Result<TriviaConfig, Reject> {
        let mut config = defaults.clone();
        if let Some(rounds) = self.rounds {
            check(
                "rounds",
                rounds,
                MAX_ROUNDS,
                "a game has 1 to {max} questions",
            )?;
            config.rounds = rounds as usize;
        }
        if let Some(seconds) = self.seconds {
            check(
                "seconds",
                seconds,
                MAX_SECONDS,
                "a question is open for 1 to {max} seconds",
            )?;
            config.seconds = seconds;
        }
        Ok(config)
    }
}

/// `value` of `field` is 1 to `max`, or it is refused with `rule` (where
/// `{max}` is `max`).
fn check(field: &str, value: u32, max: u32, rule: &str) -> Result<(), Reject> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        let rule = rule.replace("{max}", &max.to_string());
        Err(Reject::new(format!("`{field}` is {value}; {rule}")))
    }
}

/// The app of a new hosted room: `questions` asked in a random order, the
/// game as the room's settings ask (else as `defaults`), closing
/// [`CLOSE_AFTER_GAME`] after each game.
pub fn room_app(
    room: &NewRoom,
    questions: &[Question],
    defaults: &TriviaConfig,
) -> Result<TriviaApp, Reject> {
    let settings: GameSettings = room.settings_as()?;
    let config = settings.config(defaults)?;
    Ok(TriviaApp::new(questions.to_vec(), config)
        .shuffled()
        .closing_after_games(CLOSE_AFTER_GAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: serde_json::Value) -> Result<GameSettings, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn settings_default_to_the_servers_and_out_of_range_values_are_refused() {
        let defaults = TriviaConfig::default();
        let none = settings(serde_json::json!({})).unwrap();
        assert_eq!(none.config(&defaults).unwrap(), defaults);
        let some = settings(serde_json::json!({"rounds": 3, "seconds": 15})).unwrap();
        let config = some.config(&defaults).unwrap();
        assert_eq!((config.rounds, config.seconds), (3, 15));
        assert_eq!(config.pause, defaults.pause);
        for (bad, says) in [
            (
                serde_json::json!({"rounds": 0}),
                "`rounds` is 0; a game has 1 to 1000 questions",
            ),
            (
                serde_json::json!({"seconds": 601}),
                "`seconds` is 601; a question is open for 1 to 600 seconds",
            ),
        ] {
            let refused = settings(bad).unwrap().config(&defaults).unwrap_err();
            assert_eq!(refused.reason(), says);
        }
        assert!(settings(serde_json::json!({"rouds": 3})).is_err());
        assert!(settings(serde_json::json!({"rounds": "ten"})).is_err());
        assert!(settings(serde_json::json!({"rounds": -1})).is_err());
    }
}
