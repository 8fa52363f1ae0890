//! wakeline-middleware.
