//! [`TypedClient`]: what [`ClientBuilder::connect`] can give, the generic
//! [`Client`] or a generated `{Msg}Client`.

use std::future::Future;

use rex_proto::Protocol;

use super::{Client, ClientBuilder, ClientError, IntoEndpoint};

/// A client type of one protocol: the generic [`Client<P>`], or the
/// `{Msg}Client` that `#[derive(RexMessage)]` generates around it (one
/// sending method per message kind, and the generic client's methods
/// through `Deref`).
///
/// The generated client's own methods are only its stubs, so a message
/// kind may be called `send`, `events` or `info` and still get one. The
/// generic operations stay reachable through `Deref` (`(*client).send(…)`)
/// or [`TypedClient::client`], and [`TypedClient::builder`] /
/// [`TypedClient::connect`] build any client type.
///
/// ```no_run
/// # use rex::{Context, Reject, RexEvent, RexMessage, SessionId};
/// #[derive(RexMessage)]
/// #[rex(app = "quiz", events = QuizEvent)]
/// pub enum QuizMsg {
///     /// Answer the open question.
///     Answer { choice: u32 },
/// }
///
/// #[derive(RexEvent)]
/// pub enum QuizEvent {
///     /// Somebody answered.
///     Answered { session: SessionId },
/// }
///
/// # async fn example() -> Result<(), rex::ClientError> {
/// let client = QuizMsgClient::builder("http://192.168.1.20:7700").name("Ada").connect().await?;
/// client.answer(2u32).await?; // the generated stub
/// let _events = client.events(); // `rex::Client::events`, through `Deref`
/// # Ok(())
/// # }
/// ```
pub trait TypedClient: Clone + Send + Sync + Sized + 'static {
    /// The protocol this client speaks.
    type Protocol: Protocol;

    /// Wraps a connected generic client.
    fn from_client(client: Client<Self::Protocol>) -> Self;

    /// The generic client underneath.
    fn client(&self) -> &Client<Self::Protocol>;

    /// Starts configuring a client of this type for the server at
    /// `endpoint`.
    fn builder(endpoint: impl IntoEndpoint) -> ClientBuilder<Self> {
        ClientBuilder::new(endpoint)
    }

    /// Connects to the server at `endpoint` with a new session with no
    /// name and the default settings.
    fn connect(endpoint: impl IntoEndpoint) -> impl Future<Output = Result<Self, ClientError>> {
        Self::builder(endpoint).connect()
    }
}

impl<P: Protocol> TypedClient for Client<P> {
    type Protocol = P;

    fn from_client(client: Client<P>) -> Self {
        client
    }

    fn client(&self) -> &Client<P> {
        self
    }
}
