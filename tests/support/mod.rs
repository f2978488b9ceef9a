pub mod browser;
pub mod issuer;
pub mod service;
