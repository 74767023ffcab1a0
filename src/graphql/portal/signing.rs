//! Portal GraphQL: signing.
