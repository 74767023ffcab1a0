//! Portal GraphQL: invoices.
