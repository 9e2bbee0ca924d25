//! SIMD ratio table (being written).
use crate::util::Result;
pub(crate) fn run(_args: &[String]) -> Result {
    Err("bench-simd is not written yet".into())
}
