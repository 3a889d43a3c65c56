//! Errors starting the app.

/// Why the app couldn't start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The node couldn't open its data folder.
    #[error(transparent)]
    Node(#[from] commonground_node::NodeError),
    /// Listening for other laptops failed.
    #[error(transparent)]
    Net(#[from] commonground_node::NetError),
    /// The web front door couldn't open.
    #[error("The page for phones and tablets couldn't be opened at {address} ({source}).")]
    Web {
        /// Where.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}
