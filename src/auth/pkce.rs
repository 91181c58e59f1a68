//! PKCE (RFC 7636) and the `state` of a sign-in: random values from the system's generator,
//! written in base64url without padding.
//!
//! The verifier stays in this process; only its S256 challenge goes into the sign-in URL, so a
//! code that leaks on its way back (a pasted URL, a browser extension) cannot be redeemed by
//! anyone else. `state` ties the answer to this sign-in: an answer with another state is
//! refused before any exchange.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// base64url without `=` padding (RFC 7636 appendix A).
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The system's random generator failed (no entropy source): nothing safe can be made.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomUnavailable;

/// `n` random bytes in base64url.
pub fn random_token(n: usize) -> Result<String, RandomUnavailable> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomUnavailable)?;
    Ok(base64url(&bytes))
}

/// A PKCE verifier and its S256 challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verifier is what redeems a code: never printed.
        f.debug_struct("Pkce")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl Pkce {
    /// A verifier of 32 random bytes (43 characters, RFC 7636 §4.1's recommendation).
    pub fn generate() -> Result<Pkce, RandomUnavailable> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| RandomUnavailable)?;
        Ok(Pkce::from_verifier(base64url(&bytes)))
    }

    /// The pair of a given verifier (tests use RFC 7636's example).
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = s256(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }

    /// Sent with the code exchange only.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// `code_challenge` of the sign-in URL (`code_challenge_method=S256`).
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

/// BASE64URL(SHA256(ASCII(verifier))).
pub fn s256(verifier: &str) -> String {
    base64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}
