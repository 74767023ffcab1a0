//! Portal GraphQL: tickets.
