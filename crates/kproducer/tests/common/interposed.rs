//! A relay between the producer and a broker connection, for tests whose
//! transport rewrites, adds or drops frames on the way.

use std::future::Future;

use kproducer_net::BoxStream;
use tokio::io::DuplexStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// One end of an interposed connection, framed by Kafka's 4-byte length
/// prefix (frames exclude the prefix).
pub type Frames<S> = Framed<S, LengthDelimitedCodec>;

/// Puts `relay` between the producer and `broker`: returns the stream to
/// hand the producer, and spawns `relay` with the producer's end and the
/// broker's end, both framed.
pub fn interpose<R, F>(broker: BoxStream, relay: R) -> BoxStream
where
    R: FnOnce(Frames<DuplexStream>, Frames<BoxStream>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let codec = || {
        LengthDelimitedCodec::builder()
            .length_field_length(4)
            .new_codec()
    };
    let (producer_end, ours) = tokio::io::duplex(1 << 20);
    tokio::spawn(relay(
        Framed::new(ours, codec()),
        Framed::new(broker, codec()),
    ));
    Box::new(producer_end)
}
