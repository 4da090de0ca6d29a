//! What the tool adds to a server's refusal so a person knows what to do
//! next: the server's reason says what happened, the advice says which of
//! the tool's options, or what wait, fixes it.

use crate::ClientError;

/// The error as one line for stderr: the client's message, then advice for
/// the refusals a person can act on from the command line.
pub(crate) fn explain(error: &ClientError) -> String {
    match advice(error) {
        Some(advice) => format!("{error}; {advice}"),
        None => error.to_string(),
    }
}

fn advice(error: &ClientError) -> Option<String> {
    match error {
        ClientError::Forbidden { reason } if reason.contains("PIN") => {
            Some("pass the room's PIN with `--pin PIN` (the host can see it)".to_owned())
        }
        ClientError::Forbidden { .. } => Some(
            "the server refuses requests addressed this way; use the URL the server printed, or \
             ask its operator to allow this address"
                .to_owned(),
        ),
        ClientError::RequestTimeout { .. } => Some(
            "the request took too long to reach the server (a slow or congested network); try \
             again"
                .to_owned(),
        ),
        ClientError::TooManyRequests { retry_after, .. } => Some(match retry_after {
            Some(wait) => format!(
                "the server limits how fast one session or address may send; wait {} s and try \
                 again",
                wait.as_secs().max(1)
            ),
            None => "the server limits how fast one session or address may send; wait a moment \
                     and try again"
                .to_owned(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn refusals_a_person_can_fix_come_with_what_to_do() {
        let pin = ClientError::Forbidden {
            reason: "wrong PIN: check the PIN shown on the TV".to_owned(),
        };
        assert!(explain(&pin).contains("wrong PIN"), "{}", explain(&pin));
        assert!(explain(&pin).contains("--pin PIN"), "{}", explain(&pin));
        let host = ClientError::Forbidden {
            reason: "Host `evil.example` is not an address of this server".to_owned(),
        };
        assert!(explain(&host).contains("URL the server printed"));
        let slow = ClientError::RequestTimeout {
            reason: "the body took too long".to_owned(),
        };
        assert!(explain(&slow).contains("try again"));
        let busy = ClientError::TooManyRequests {
            reason: "20 messages per second".to_owned(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(explain(&busy).contains("wait 3 s"), "{}", explain(&busy));
        let other = ClientError::Timeout;
        assert_eq!(explain(&other), other.to_string());
    }
}
