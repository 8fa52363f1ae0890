//! Tests of the layer through a real axum Router.
