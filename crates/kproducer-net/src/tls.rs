//! [`TlsTransport`]: TLS (rustls, `ring` provider) over any inner
//! [`Transport`]'s stream, so that `security.protocol=SSL` is
//! `TlsTransport(TcpTransport)` and SASL_SSL is a SASL layer over this one.
//!
//! The whole connect (inner connect plus handshake) is bounded by the
//! connect timeout, so a TLS client pointed at a plaintext port fails fast
//! instead of hanging. Handshake failures become typed
//! [`TransportError`]s naming the cause (unknown CA, name mismatch,
//! expired, not a TLS listener) with what to do about it.
//!
//! # References
//! - Kafka `ssl.*` client configuration; KIP-294 (server-name verification
//!   on by default since Kafka 2.0).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::tcp::{DEFAULT_CONNECT_TIMEOUT, TcpConfig, TcpTransport};
use crate::tls_config::{TlsConfig, TlsConfigError};
use crate::transport::{BoxStream, BrokerAddress, Transport, TransportError};

/// Connects over TLS on top of another transport.
///
/// ```
/// use std::time::Duration;
/// use kproducer_net::{PemSource, TcpConfig, TlsConfig, TlsTransport, TrustRoots};
///
/// let tls = TlsConfig {
///     roots: TrustRoots::Pem(PemSource::File("/nonexistent/ca.pem".into())),
///     ..TlsConfig::default()
/// };
/// // Files are read when the transport is built: a missing CA file is an
/// // error now, not at the first connection.
/// let err = TlsTransport::over_tcp(TcpConfig::default(), &tls).unwrap_err();
/// assert!(err.to_string().contains("/nonexistent/ca.pem"));
/// ```
#[derive(Clone)]
pub struct TlsTransport {
    inner: Arc<dyn Transport>,
    connector: TlsConnector,
    connect_timeout: Duration,
    verify_server_name: bool,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTransport")
            .field("inner", &self.inner)
            .field("connect_timeout", &self.connect_timeout)
            .field("verify_server_name", &self.verify_server_name)
            .finish_non_exhaustive()
    }
}

impl TlsTransport {
    /// TLS over `inner`'s streams, with the default connect timeout (10 s)
    /// bounding connect and handshake together.
    ///
    /// # Errors
    /// [`TlsConfigError`] when a file cannot be read or holds no usable
    /// certificate or key.
    pub fn new(inner: Arc<dyn Transport>, config: &TlsConfig) -> Result<Self, TlsConfigError> {
        Ok(Self {
            inner,
            connector: TlsConnector::from(Arc::new(config.client_config()?)),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            verify_server_name: config.verify_server_name,
        })
    }

    /// TLS over TCP with these socket options; the TCP connect timeout
    /// bounds connect and handshake together.
    ///
    /// # Errors
    /// As [`TlsTransport::new`].
    pub fn over_tcp(tcp: TcpConfig, config: &TlsConfig) -> Result<Self, TlsConfigError> {
        let timeout = tcp.connect_timeout;
        Ok(Self::new(Arc::new(TcpTransport::new(tcp)), config)?.with_connect_timeout(timeout))
    }

    /// Sets the limit on connect plus handshake.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    async fn connect_and_handshake(
        &self,
        addr: &BrokerAddress,
    ) -> Result<BoxStream, TransportError> {
        let name =
            ServerName::try_from(addr.host.clone()).map_err(|e| TransportError::TlsHandshake {
                addr: addr.clone(),
                detail: format!("{:?} is not a valid TLS server name: {e}", addr.host),
            })?;
        let stream = self.inner.connect(addr).await?;
        match self.connector.connect(name, stream).await {
            Ok(tls) => Ok(Box::new(HintingStream { inner: tls })),
            Err(e) => Err(classify(addr, &e)),
        }
    }
}

#[async_trait::async_trait]
impl Transport for TlsTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let limit = self.connect_timeout;
        match tokio::time::timeout(limit, self.connect_and_handshake(addr)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout {
                addr: addr.clone(),
                timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}

/// The rustls error inside an I/O error from tokio-rustls, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Names the cause of a failed handshake.
fn classify(addr: &BrokerAddress, e: &io::Error) -> TransportError {
    let addr = addr.clone();
    let Some(tls) = rustls_error(e) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => TransportError::TlsClosedDuringHandshake {
                addr,
                detail: format!("the connection closed during the handshake: {e}"),
            },
            _ => TransportError::TlsHandshake {
                addr,
                detail: e.to_string(),
            },
        };
    };
    let detail = tls.to_string();
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TransportError::TlsUnknownCa { addr, detail }
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TransportError::TlsNameMismatch { addr, detail }
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                TransportError::TlsExpired { addr, detail }
            }
            _ => TransportError::TlsBadCertificate { addr, detail },
        },
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => {
            TransportError::TlsPeerNotTls { addr, detail }
        }
        rustls::Error::AlertReceived(alert) => TransportError::TlsHandshake {
            addr,
            detail: alert_hint(*alert),
        },
        _ => TransportError::TlsHandshake { addr, detail },
    }
}

/// What a TLS alert from the broker most likely means, and what to do.
fn alert_hint(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::CertificateRequired => {
            "the broker requires a client certificate (mutual TLS): set \
             ssl.certificate.location and ssl.key.location"
                .to_owned()
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateUnknown
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateRevoked
        | AlertDescription::DecryptError => format!(
            "the broker refused the client certificate (TLS alert {alert:?}): use a \
             certificate signed by a CA the broker trusts, and not expired"
        ),
        AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure => format!(
            "no TLS version or cipher suite in common with the broker (TLS alert {alert:?}); \
             kproducer speaks TLS 1.2 and 1.3"
        ),
        other => format!("the broker sent TLS alert {other:?}"),
    }
}

/// The TLS stream handed to connections. In TLS 1.3 the client finishes
/// its handshake before the broker checks the client certificate, so a
/// refusal arrives as an alert on the first read: this wrapper turns it
/// into an error with the same hint a handshake failure gets.
struct HintingStream {
    inner: TlsStream<BoxStream>,
}

impl AsyncRead for HintingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(e)) => {
                let hinted = match rustls_error(&e) {
                    Some(rustls::Error::AlertReceived(alert)) => Some(alert_hint(*alert)),
                    _ => None,
                };
                Poll::Ready(Err(match hinted {
                    Some(hint) => io::Error::new(e.kind(), hint),
                    None => e,
                }))
            }
            other => other,
        }
    }
}

impl AsyncWrite for HintingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> BrokerAddress {
        BrokerAddress::new("broker.example", 9093)
    }

    #[test]
    fn certificate_errors_are_named() {
        let cases: [(CertificateError, &str); 4] = [
            (CertificateError::UnknownIssuer, "trusted CA"),
            (
                CertificateError::NotValidForName,
                "not valid for the host name",
            ),
            (CertificateError::Expired, "expired"),
            (CertificateError::Revoked, "refused"),
        ];
        for (cert, needle) in cases {
            let e = io::Error::new(
                io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(cert),
            );
            let text = classify(&addr(), &e).to_string();
            assert!(text.contains(needle), "{text}");
        }
    }

    #[test]
    fn eof_during_handshake_points_at_a_plaintext_listener_but_may_pass() {
        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        let err = classify(&addr(), &e);
        assert!(
            matches!(err, TransportError::TlsClosedDuringHandshake { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("security.protocol=PLAINTEXT"));
        // A broker shutting down closes connections too: retried.
        assert!(!err.needs_configuration_change());
    }

    #[test]
    fn non_tls_bytes_need_a_configuration_change() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        let err = classify(&addr(), &e);
        assert!(matches!(err, TransportError::TlsPeerNotTls { .. }), "{err}");
        assert!(err.needs_configuration_change());
    }

    #[test]
    fn client_certificate_alerts_say_what_to_set() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        assert!(
            classify(&addr(), &e)
                .to_string()
                .contains("ssl.certificate.location")
        );
    }
}
