//! Errors from the network side of the node. Like every error in the node, the messages are
//! plain English for the person at the laptop: what happened and what to do next.

use std::net::SocketAddr;

use commonground_api::ApiError;
use commonground_protocol::ProtocolError;
use commonground_workshop::{NameProblem, WorkshopId};

use crate::error::NodeError;

/// Something the node could not do on the network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Storage or the document store failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// An invite, code or message was refused by the protocol (the message says which).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The name can't be used (titles, too long...): nothing was sent.
    #[error("{0}")]
    Name(NameProblem),
    /// Listening for other laptops failed.
    #[error(
        "Common Ground couldn't listen for other laptops on {address} ({source}). \
         Another program may be using that port; try another one."
    )]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The other laptop could not be reached.
    #[error(
        "Common Ground couldn't reach the laptop at {address} ({source}). Check both laptops \
         are on the same network and the facilitator's laptop is open, then try again."
    )]
    Unreachable {
        /// Where we tried.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The other laptop stopped answering part-way.
    #[error("The other laptop stopped answering while joining. Check the network, then try again.")]
    TimedOut,
    /// The other laptop closed the connection without an answer.
    #[error(
        "The facilitator's laptop closed the connection without letting this laptop in. \
         Check the address and the code, or ask the facilitator for a new code."
    )]
    Closed,
    /// This laptop holds no key for the workshop.
    #[error(
        "This laptop isn't a member of workshop {0} yet, so it can't connect to it. \
         Join with the invite link or the 6-digit code first."
    )]
    NotAMember(WorkshopId),
    /// Only the laptop that holds the facilitator key for the workshop can do this.
    #[error(
        "Only the facilitator's laptop for this workshop can invite people or remove them \
         from the network. Please ask the facilitator to do it on their laptop."
    )]
    NotFacilitator,
    /// The workshop didn't arrive from the other laptop in time.
    #[error(
        "This laptop joined workshop {0} but couldn't fetch it from the facilitator's laptop \
         in time. It will keep trying while the laptops are connected; try opening it again \
         in a moment."
    )]
    NotReceived(WorkshopId),
    /// The workshop refused a command run on the network's behalf (joining under a name).
    #[error("{}", .0.message)]
    Api(ApiError),
}

/// The result of network operations.
pub type NetResult<T> = std::result::Result<T, NetError>;

impl NetError {
    /// A short, stable, machine-readable kind, for errors that cross to the UI as `{kind, message}`.
    pub fn kind(&self) -> &'static str {
        match self {
            NetError::Node(e) => e.kind(),
            NetError::Protocol(e) => e.kind(),
            NetError::Name(_) => "name",
            NetError::Listen { .. } => "listen",
            NetError::Unreachable { .. } => "unreachable",
            NetError::TimedOut => "timed_out",
            NetError::Closed => "closed",
            NetError::NotAMember(_) => "not_a_member",
            NetError::NotFacilitator => "not_facilitator",
            NetError::NotReceived(_) => "not_received",
            NetError::Api(e) => match e.kind.as_str() {
                "already_joined" => "already_joined",
                _ => "refused",
            },
        }
    }

    /// The `{kind, message}` form for front ends.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            NetError::Api(e) => e.clone(),
            other => ApiError::new(other.kind(), other.to_string()),
        }
    }
}
