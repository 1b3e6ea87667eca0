//! Serde helpers shared by generated and hand-written DTOs.

use serde::{Deserialize, Deserializer};

/// Reads `null` as the type's default: Go serialises empty slices and nil pointers as `null`
/// (SERVER.md §3.1), which a client should treat as "empty".
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
