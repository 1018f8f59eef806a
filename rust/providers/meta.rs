//! Meta's subscription handshake (WhatsApp Cloud API, Messenger, Instagram): before it sends
//! signed deliveries, Meta calls the endpoint with `hub.mode=subscribe`, the verify token the
//! app configured, and a `hub.challenge` that the endpoint must answer with. Deliveries are
//! then signed as GitHub signs them (`X-Hub-Signature-256`, see `body`).

use crate::encoding::constant_time_eq;

pub const MODE: &str = "hub.mode";
pub const VERIFY_TOKEN: &str = "hub.verify_token";
pub const CHALLENGE: &str = "hub.challenge";

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeRejection {
    Missing(&'static str),
    NotSubscribe,
    WrongToken,
}

impl std::fmt::Display for ChallengeRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "the handshake has no {name:?} parameter"),
            Self::NotSubscribe => write!(f, "{MODE:?} is not \"subscribe\""),
            Self::WrongToken => write!(f, "{VERIFY_TOKEN:?} does not match the verify token"),
        }
    }
}

/// The challenge to answer with, when the mode is `subscribe` and the token is `expected`.
pub fn answer<'a>(
    mode: Option<&[u8]>,
    token: Option<&[u8]>,
    challenge: Option<&'a [u8]>,
    expected: &[u8],
) -> Result<&'a [u8], ChallengeRejection> {
    let mode = mode.ok_or(ChallengeRejection::Missing(MODE))?;
    let token = token.ok_or(ChallengeRejection::Missing(VERIFY_TOKEN))?;
    let challenge = challenge.ok_or(ChallengeRejection::Missing(CHALLENGE))?;
    if mode != b"subscribe" {
        return Err(ChallengeRejection::NotSubscribe);
    }
    if !constant_time_eq(token, expected) {
        return Err(ChallengeRejection::WrongToken);
    }
    Ok(challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake() {
        let ok = answer(Some(b"subscribe"), Some(b"tok"), Some(b"1158201444"), b"tok");
        assert_eq!(ok, Ok(&b"1158201444"[..]));
        assert_eq!(
            answer(Some(b"unsubscribe"), Some(b"tok"), Some(b"1"), b"tok"),
            Err(ChallengeRejection::NotSubscribe)
        );
        assert_eq!(
            answer(Some(b"subscribe"), Some(b"to"), Some(b"1"), b"tok"),
            Err(ChallengeRejection::WrongToken)
        );
        assert_eq!(
            answer(None, Some(b"tok"), Some(b"1"), b"tok"),
            Err(ChallengeRejection::Missing(MODE))
        );
        assert_eq!(
            answer(Some(b"subscribe"), Some(b"tok"), None, b"tok"),
            Err(ChallengeRejection::Missing(CHALLENGE))
        );
        assert_eq!(
            ChallengeRejection::WrongToken.to_string(),
            "\"hub.verify_token\" does not match the verify token"
        );
    }
}
