//! Reading requests: the client and its proxies, the session cookie, local paths to come
//! back to, request bodies bounded in time, and extractors whose rejections use the
//! crate's error shape. Knows nothing of providers or pages, so providers' own routes use
//! it as the built-in ones do.

pub mod client;
pub mod cookies;
pub mod deadline;
pub mod extract;
pub mod facts;
pub mod paths;

pub use client::{Client, ClientAddr};
pub use facts::RequestFacts;
