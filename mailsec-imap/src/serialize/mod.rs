//! Serializer (in progress).
