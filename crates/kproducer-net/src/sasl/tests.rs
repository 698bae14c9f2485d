//! The SASL driver against hand-scripted brokers on in-memory streams.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kproducer_protocol::{ApiKey, Message, RequestHeader, encode_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::transport::{BoxStream, BrokerAddress, Transport, TransportError};

/// A transport whose single connection is the client end of a duplex pipe.
#[derive(Debug)]
struct PipeTransport(std::sync::Mutex<Option<DuplexStream>>);

#[async_trait::async_trait]
impl Transport for PipeTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let stream = self
            .0
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| TransportError::Connect {
                addr: addr.clone(),
                source: std::io::Error::other("used"),
            })?;
        Ok(Box::new(stream))
    }
}

async fn read_request(server: &mut DuplexStream) -> Option<(RequestHeader, Bytes)> {
    let len = server.read_u32().await.ok()?;
    let mut frame = vec![0; len as usize];
    server.read_exact(&mut frame).await.ok()?;
    let mut frame = Bytes::from(frame);
    let header = RequestHeader::decode(&mut frame).ok()?;
    Some((header, frame))
}

async fn respond<M: Message>(server: &mut DuplexStream, header: &RequestHeader, body: &M) {
    let api = ApiKey::from_i16(header.api_key).unwrap();
    let mut buf = BytesMut::new();
    encode_response(
        &mut buf,
        api,
        header.api_version,
        header.correlation_id,
        body,
    )
    .unwrap();
    server.write_u32(buf.len() as u32).await.unwrap();
    server.write_all(&buf).await.unwrap();
}

/// A broker that accepts `mechanisms` and answers each SaslAuthenticate
/// with the next of `answers`.
fn scripted(
    mechanisms: &'static [&'static str],
    answers: Vec<SaslAuthenticateResponse>,
) -> (Arc<dyn Transport>, tokio::task::JoinHandle<Vec<Bytes>>) {
    let (client, mut server) = tokio::io::duplex(4096);
    let handle = tokio::spawn(async move {
        let mut tokens = Vec::new();
        let Some((h, mut body)) = read_request(&mut server).await else {
            return tokens;
        };
        assert_eq!(h.api_key, ApiKey::SaslHandshake.as_i16());
        assert_eq!(h.api_version, 1);
        let req = SaslHandshakeRequest::decode(&mut body, 1).unwrap();
        let supported = mechanisms.contains(&req.mechanism.as_str());
        respond(
            &mut server,
            &h,
            &SaslHandshakeResponse {
                error_code: if supported { 0 } else { 33 },
                mechanisms: mechanisms.iter().map(|m| (*m).to_owned()).collect(),
            },
        )
        .await;
        for answer in answers {
            let Some((h, mut body)) = read_request(&mut server).await else {
                return tokens;
            };
            assert_eq!(h.api_key, ApiKey::SaslAuthenticate.as_i16());
            let req = SaslAuthenticateRequest::decode(&mut body, h.api_version).unwrap();
            tokens.push(req.auth_bytes);
            respond(&mut server, &h, &answer).await;
        }
        // Keep the stream open until the client is done with it.
        let _ = read_request(&mut server).await;
        tokens
    });
    (
        Arc::new(PipeTransport(std::sync::Mutex::new(Some(client)))),
        handle,
    )
}

fn ok(auth_bytes: &'static [u8]) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse {
        auth_bytes: Bytes::from_static(auth_bytes),
        ..Default::default()
    }
}

async fn connect_err(t: &SaslTransport) -> TransportError {
    match t.connect(&addr()).await {
        Ok(_) => panic!("authentication should have failed"),
        Err(e) => e,
    }
}

fn addr() -> BrokerAddress {
    BrokerAddress::new("broker", 9092)
}

#[tokio::test]
async fn plain_success_sends_one_token() {
    let (inner, server) = scripted(&["PLAIN"], vec![ok(b"")]);
    let t = SaslTransport::new(inner, Arc::new(Plain::new("alice", "pw")));
    let stream = t.connect(&addr()).await.unwrap();
    drop(stream);
    assert_eq!(
        server.await.unwrap(),
        vec![Bytes::from_static(b"\0alice\0pw")]
    );
}

#[tokio::test]
async fn an_unsupported_mechanism_lists_the_enabled_ones() {
    let (inner, _server) = scripted(&["SCRAM-SHA-512", "GSSAPI"], vec![]);
    let t = SaslTransport::new(inner, Arc::new(Plain::new("alice", "pw")));
    let e = connect_err(&t).await;
    let sasl = e.sasl_error().unwrap();
    assert!(matches!(sasl, SaslError::UnsupportedMechanism { enabled, .. } if enabled.len() == 2));
    let text = e.to_string();
    assert!(
        text.contains("PLAIN") && text.contains("SCRAM-SHA-512, GSSAPI"),
        "{text}"
    );
    assert!(sasl.is_fatal());
}

#[tokio::test]
async fn a_rejected_password_carries_the_brokers_message_and_not_the_password() {
    let rejected = SaslAuthenticateResponse {
        error_code: 58,
        error_message: Some("Authentication failed: Invalid username or password".into()),
        ..Default::default()
    };
    let (inner, _server) = scripted(&["PLAIN"], vec![rejected]);
    let t = SaslTransport::new(inner, Arc::new(Plain::new("alice", "hunter2-secret")));
    let e = connect_err(&t).await;
    let text = format!("{e} {e:?}");
    assert!(text.contains("Invalid username or password"), "{text}");
    assert!(!text.contains("hunter2-secret"), "{text}");
    assert!(e.sasl_error().unwrap().is_fatal());
}

#[tokio::test]
async fn a_forged_scram_server_signature_fails_the_connection() {
    // The server-first answer must extend the client's random nonce, so
    // this broker is scripted by hand in two steps.
    let (client, mut server) = tokio::io::duplex(4096);
    let inner: Arc<dyn Transport> = Arc::new(PipeTransport(std::sync::Mutex::new(Some(client))));
    let t = SaslTransport::new(inner, Arc::new(Scram::new(ScramHash::Sha256, "u", "pw")));
    let broker = tokio::spawn(async move {
        let (h, _) = read_request(&mut server).await.unwrap();
        let hs = SaslHandshakeResponse {
            error_code: 0,
            mechanisms: vec!["SCRAM-SHA-256".into()],
        };
        respond(&mut server, &h, &hs).await;
        let (h, mut body) = read_request(&mut server).await.unwrap();
        let first = SaslAuthenticateRequest::decode(&mut body, h.api_version).unwrap();
        let first = String::from_utf8(first.auth_bytes.to_vec()).unwrap();
        let nonce = first.rsplit_once("r=").unwrap().1.to_owned();
        let server_first = format!("r={nonce}srv,s=c2FsdA==,i=4096");
        let answer = SaslAuthenticateResponse {
            auth_bytes: Bytes::from(server_first),
            ..Default::default()
        };
        respond(&mut server, &h, &answer).await;
        let (h, _) = read_request(&mut server).await.unwrap();
        let forged = SaslAuthenticateResponse {
            auth_bytes: Bytes::from_static(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            ..Default::default()
        };
        respond(&mut server, &h, &forged).await;
    });
    let e = connect_err(&t).await;
    assert!(
        matches!(
            e.sasl_error(),
            Some(SaslError::ServerSignatureMismatch { .. })
        ),
        "{e}"
    );
    broker.await.unwrap();
}

#[tokio::test]
async fn a_listener_without_sasl_is_named() {
    let (client, mut server) = tokio::io::duplex(4096);
    tokio::spawn(async move {
        let (h, _) = read_request(&mut server).await.unwrap();
        let hs = SaslHandshakeResponse {
            error_code: 34,
            mechanisms: vec![],
        };
        respond(&mut server, &h, &hs).await;
    });
    let inner: Arc<dyn Transport> = Arc::new(PipeTransport(std::sync::Mutex::new(Some(client))));
    let t = SaslTransport::new(inner, Arc::new(Plain::new("a", "b")));
    let e = connect_err(&t).await;
    assert!(
        matches!(e.sasl_error(), Some(SaslError::NotSaslListener)),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_broker_times_out_and_is_not_fatal() {
    let (client, server) = tokio::io::duplex(4096);
    let inner: Arc<dyn Transport> = Arc::new(PipeTransport(std::sync::Mutex::new(Some(client))));
    let t = SaslTransport::new(inner, Arc::new(Plain::new("a", "b")))
        .with_timeout(Duration::from_secs(3));
    let e = connect_err(&t).await;
    assert!(matches!(e.sasl_error(), Some(SaslError::Timeout(_))), "{e}");
    assert!(!e.sasl_error().unwrap().is_fatal());
    drop(server);
}

#[tokio::test]
async fn a_broker_that_hangs_up_is_an_io_error() {
    let (client, server) = tokio::io::duplex(4096);
    drop(server);
    let inner: Arc<dyn Transport> = Arc::new(PipeTransport(std::sync::Mutex::new(Some(client))));
    let t = SaslTransport::new(inner, Arc::new(Plain::new("a", "b")));
    let e = connect_err(&t).await;
    assert!(matches!(e.sasl_error(), Some(SaslError::Io(_))), "{e}");
}

#[tokio::test]
async fn an_endless_exchange_is_cut_off() {
    let answers = (0..20).map(|_| ok(b"more")).collect();
    let (inner, _server) = scripted(&["X"], answers);
    #[derive(Debug)]
    struct Endless;
    struct EndlessExchange;
    impl Exchange for EndlessExchange {
        fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
            Ok(b"hi".to_vec())
        }
        fn step(&mut self, _: &[u8]) -> Result<Step, SaslError> {
            Ok(Step::Respond(b"again".to_vec()))
        }
    }
    #[async_trait::async_trait]
    impl Mechanism for Endless {
        fn name(&self) -> &str {
            "X"
        }
        async fn start(&self, _: &BrokerAddress) -> Result<Box<dyn Exchange>, SaslError> {
            Ok(Box::new(EndlessExchange))
        }
    }
    let t = SaslTransport::new(inner, Arc::new(Endless));
    let e = connect_err(&t).await;
    assert!(
        matches!(e.sasl_error(), Some(SaslError::TooManyRounds { .. })),
        "{e}"
    );
}

#[test]
fn builtin_mechanisms_parse_by_name() {
    for m in BuiltinMechanism::ALL {
        assert_eq!(BuiltinMechanism::parse(m.name()), Some(m));
        assert_eq!(BuiltinMechanism::parse(&m.name().to_lowercase()), Some(m));
    }
    assert_eq!(BuiltinMechanism::parse("OAUTHBEARER"), None);
}
