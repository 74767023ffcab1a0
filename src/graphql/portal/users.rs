//! Portal GraphQL: users.
