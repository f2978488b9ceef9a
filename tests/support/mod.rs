pub mod issuer;
pub mod service;
