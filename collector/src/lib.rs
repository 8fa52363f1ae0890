//! Wakeline collector.
