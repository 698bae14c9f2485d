//! [`SaslGate`]: one connection's authentication state, as a plain state
//! machine: a decoded request in, a verdict out.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kproducer_net::{BuiltinMechanism, ScramHash};
use kproducer_protocol::messages::{
    AnyRequest, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kproducer_protocol::{ApiKey, EncodeError, ErrorCode, RequestHeader};

use super::SaslServerConfig;
use super::scram_server::{AwaitingFinal, server_first};
use crate::server::response_frame;

/// What the connection does with a request.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Not the gate's business: serve it as usual.
    Serve,
    /// Answer with this frame.
    Respond(Result<BytesMut, EncodeError>),
    /// Answer with this frame, then close (failed authentication).
    RespondThenClose(Result<BytesMut, EncodeError>),
    /// Close without answering (a request before authentication).
    Close,
}

#[derive(Debug)]
enum State {
    /// The cluster has no SASL: everything is served; SASL requests are
    /// answered with `ILLEGAL_SASL_STATE`, as a PLAINTEXT listener does.
    NoSasl,
    AwaitingHandshake,
    AwaitingToken(BuiltinMechanism),
    AwaitingScramFinal(Box<AwaitingFinal>),
    Authenticated,
}

/// One connection's SASL state.
#[derive(Debug)]
pub(crate) struct SaslGate {
    config: Option<Arc<SaslServerConfig>>,
    state: State,
}

impl SaslGate {
    /// A gate for a new connection to a cluster with (or without) SASL.
    pub(crate) fn new(config: Option<Arc<SaslServerConfig>>) -> Self {
        let state = if config.is_some() {
            State::AwaitingHandshake
        } else {
            State::NoSasl
        };
        Self { config, state }
    }

    /// Decides what happens to a decoded request.
    pub(crate) fn admit(&mut self, header: &RequestHeader, request: &AnyRequest) -> Verdict {
        match request {
            AnyRequest::ApiVersions(_) => Verdict::Serve,
            AnyRequest::SaslHandshake(r) => self.handshake(header, r),
            AnyRequest::SaslAuthenticate(r) => self.authenticate(header, r),
            _ => match self.state {
                State::NoSasl | State::Authenticated => Verdict::Serve,
                _ => {
                    tracing::debug!(
                        api = header.api_key,
                        "request before SASL authentication; closing"
                    );
                    Verdict::Close
                }
            },
        }
    }

    fn handshake(&mut self, header: &RequestHeader, request: &SaslHandshakeRequest) -> Verdict {
        let respond = |error_code: ErrorCode, mechanisms: Vec<String>| {
            response_frame(
                ApiKey::SaslHandshake,
                header.api_version,
                header.correlation_id,
                &SaslHandshakeResponse {
                    error_code: error_code.as_i16(),
                    mechanisms,
                },
            )
        };
        let Some(config) = &self.config else {
            return Verdict::Respond(respond(ErrorCode::ILLEGAL_SASL_STATE, Vec::new()));
        };
        if !matches!(self.state, State::AwaitingHandshake) {
            return Verdict::RespondThenClose(respond(ErrorCode::ILLEGAL_SASL_STATE, Vec::new()));
        }
        let enabled: Vec<String> = config
            .mechanisms
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        match BuiltinMechanism::parse(&request.mechanism)
            .filter(|m| m.name() == request.mechanism && config.mechanisms.contains(m))
        {
            Some(m) => {
                self.state = State::AwaitingToken(m);
                Verdict::Respond(respond(ErrorCode::NONE, enabled))
            }
            None => {
                Verdict::RespondThenClose(respond(ErrorCode::UNSUPPORTED_SASL_MECHANISM, enabled))
            }
        }
    }

    fn authenticate(
        &mut self,
        header: &RequestHeader,
        request: &SaslAuthenticateRequest,
    ) -> Verdict {
        let frame = |error: Option<String>, auth_bytes: Vec<u8>| {
            let error_code = if error.is_some() {
                ErrorCode::SASL_AUTHENTICATION_FAILED
            } else {
                ErrorCode::NONE
            };
            response_frame(
                ApiKey::SaslAuthenticate,
                header.api_version,
                header.correlation_id,
                &SaslAuthenticateResponse {
                    error_code: error_code.as_i16(),
                    error_message: error,
                    auth_bytes: Bytes::from(auth_bytes),
                    session_lifetime_ms: 0,
                    tagged_fields: Default::default(),
                },
            )
        };
        let (Some(config), state) = (
            &self.config,
            std::mem::replace(&mut self.state, State::AwaitingHandshake),
        ) else {
            return Verdict::Respond(response_frame(
                ApiKey::SaslAuthenticate,
                header.api_version,
                header.correlation_id,
                &SaslAuthenticateResponse {
                    error_code: ErrorCode::ILLEGAL_SASL_STATE.as_i16(),
                    error_message: Some("this listener does not use SASL".to_owned()),
                    ..Default::default()
                },
            ));
        };
        let token = &request.auth_bytes[..];
        let outcome = match state {
            State::AwaitingToken(BuiltinMechanism::Plain) => {
                check_plain(config, token).map(|()| (State::Authenticated, Vec::new()))
            }
            State::AwaitingToken(
                m @ (BuiltinMechanism::ScramSha256 | BuiltinMechanism::ScramSha512),
            ) => {
                let hash = if m == BuiltinMechanism::ScramSha256 {
                    ScramHash::Sha256
                } else {
                    ScramHash::Sha512
                };
                server_first(config, hash, token)
                    .map(|(awaiting, out)| (State::AwaitingScramFinal(Box::new(awaiting)), out))
            }
            State::AwaitingScramFinal(awaiting) => awaiting
                .server_final(token)
                .map(|out| (State::Authenticated, out)),
            State::NoSasl | State::AwaitingHandshake | State::Authenticated => {
                Err("SaslAuthenticate out of turn: send SaslHandshake first".to_owned())
            }
        };
        match outcome {
            Ok((next, out)) => {
                self.state = next;
                Verdict::Respond(frame(None, out))
            }
            Err(message) => {
                tracing::debug!(%message, "SASL authentication failed; closing");
                Verdict::RespondThenClose(frame(Some(message), Vec::new()))
            }
        }
    }
}

/// Checks a PLAIN token (`authzid NUL user NUL password`).
fn check_plain(config: &SaslServerConfig, token: &[u8]) -> Result<(), String> {
    const INVALID: &str = "Authentication failed: Invalid username or password";
    let mut parts = token.split(|b| *b == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid SASL/PLAIN response: expected 3 tokens".to_owned());
    };
    let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password))
    else {
        return Err(INVALID.to_owned());
    };
    if !authzid.is_empty() && authzid != user.as_bytes() {
        return Err("Authentication failed: Client requested an authorization id that is different from username".to_owned());
    }
    match config.users.get(user) {
        Some(c) if c.password == kproducer_net::Secret::new(password) => Ok(()),
        _ => Err(INVALID.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use kproducer_protocol::messages::{MetadataRequest, SaslHandshakeResponse};
    use kproducer_protocol::{Message, ResponseHeader};

    use super::*;

    fn header(api: ApiKey, version: i16) -> RequestHeader {
        RequestHeader {
            api_key: api.as_i16(),
            api_version: version,
            correlation_id: 1,
            ..Default::default()
        }
    }

    fn gate() -> SaslGate {
        SaslGate::new(Some(Arc::new(SaslServerConfig::new().user("alice", "pw"))))
    }

    fn handshake(g: &mut SaslGate, mechanism: &str) -> Verdict {
        g.admit(
            &header(ApiKey::SaslHandshake, 1),
            &AnyRequest::SaslHandshake(SaslHandshakeRequest {
                mechanism: mechanism.into(),
            }),
        )
    }

    fn authenticate(g: &mut SaslGate, token: &'static [u8]) -> Verdict {
        g.admit(
            &header(ApiKey::SaslAuthenticate, 0),
            &AnyRequest::SaslAuthenticate(SaslAuthenticateRequest {
                auth_bytes: Bytes::from_static(token),
                ..Default::default()
            }),
        )
    }

    fn handshake_code(v: Verdict) -> (bool, i16) {
        let (close, frame) = match v {
            Verdict::Respond(f) => (false, f),
            Verdict::RespondThenClose(f) => (true, f),
            other => panic!("{other:?}"),
        };
        let mut bytes = frame.unwrap().freeze();
        ResponseHeader::decode(&mut bytes, 0).unwrap();
        (
            close,
            SaslHandshakeResponse::decode(&mut bytes, 1)
                .unwrap()
                .error_code,
        )
    }

    fn metadata(g: &mut SaslGate) -> Verdict {
        g.admit(
            &header(ApiKey::Metadata, 12),
            &AnyRequest::Metadata(MetadataRequest::default()),
        )
    }

    #[test]
    fn only_api_versions_and_sasl_pass_before_authentication() {
        let mut g = gate();
        assert!(matches!(metadata(&mut g), Verdict::Close));
        let mut g = gate();
        assert_eq!(handshake_code(handshake(&mut g, "PLAIN")), (false, 0));
        assert!(matches!(metadata(&mut g), Verdict::Close));
        let mut g = gate();
        handshake(&mut g, "PLAIN");
        assert!(matches!(
            authenticate(&mut g, b"\0alice\0pw"),
            Verdict::Respond(Ok(_))
        ));
        assert!(matches!(metadata(&mut g), Verdict::Serve));
        // A second handshake after authentication is out of turn.
        assert_eq!(handshake_code(handshake(&mut g, "PLAIN")), (true, 34));
    }

    #[test]
    fn plain_checks_user_password_and_authzid() {
        for token in [
            &b"\0alice\0wrong"[..],
            b"\0bob\0pw",
            b"bob\0alice\0pw",
            b"no separators",
        ] {
            let mut g = gate();
            handshake(&mut g, "PLAIN");
            let v = g.admit(
                &header(ApiKey::SaslAuthenticate, 0),
                &AnyRequest::SaslAuthenticate(SaslAuthenticateRequest {
                    auth_bytes: Bytes::copy_from_slice(token),
                    ..Default::default()
                }),
            );
            assert!(matches!(v, Verdict::RespondThenClose(Ok(_))), "{token:?}");
        }
        let mut g = gate();
        handshake(&mut g, "PLAIN");
        assert!(matches!(
            authenticate(&mut g, b"alice\0alice\0pw"),
            Verdict::Respond(_)
        ));
    }

    #[test]
    fn unknown_mechanisms_and_tokens_out_of_turn_are_refused() {
        let mut g = gate();
        assert_eq!(handshake_code(handshake(&mut g, "GSSAPI")), (true, 33));
        let mut g = gate();
        assert!(matches!(
            authenticate(&mut g, b"\0alice\0pw"),
            Verdict::RespondThenClose(_)
        ));
        // Without SASL: SASL requests get ILLEGAL_SASL_STATE, others pass.
        let mut g = SaslGate::new(None);
        assert_eq!(handshake_code(handshake(&mut g, "PLAIN")), (false, 34));
        assert!(matches!(metadata(&mut g), Verdict::Serve));
    }
}
