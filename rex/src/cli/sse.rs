//! `rex tail --sse`: follows a room's log over Server-Sent Events, the
//! framing browsers use, resuming with `Last-Event-ID` the way
//! `EventSource` does. A tool for checking what a web page would see.
//!
//! Only the printing is here: reconnecting, backoff, the idle timeout,
//! resyncing and the SSE parser are the client's follower, the same one
//! the typed [`EventStream`](crate::EventStream) uses.

use super::{
    print_connection, print_event, print_resync, reader, visible, Console, Failure, TailArgs, WARN,
};
use crate::client::follow::{Framing, Item};

pub(super) async fn tail(console: &mut Console<'_>, args: &TailArgs) -> Result<(), Failure> {
    let client = reader(&args.url).await?;
    let mut stream = client.follow_raw(args.start, Framing::Sse);
    let mut shown = 0;
    while args.limit.is_none_or(|limit| shown < limit) {
        let Some(item) = stream.next().await else {
            break;
        };
        match item {
            Item::Record(record) => {
                print_event(console, &record)?;
                shown += 1;
            }
            Item::Resync(r) => print_resync(console, &format!("{:?}", r.cause), &r.reason, r.head)?,
            Item::Connection(state) => print_connection(console, &state)?,
            // The follower has already reconnected; say what went wrong.
            Item::Error(e) => {
                let warning = console.paint(WARN, "!");
                writeln!(
                    console.out,
                    "{warning} {}",
                    visible::visible(&e.to_string())
                )?;
            }
            Item::Fatal(e) => return Err(e.into()),
        }
    }
    Ok(())
}
