//! Bounds-checked access to guest linear memory, as plain functions over a byte slice so they can
//! be tested against a `Vec<u8>`. Every pointer and length comes from the guest: any that does not
//! fit is `INVALID_MEMORY_ACCESS`, never a panic.

use super::Status;

/// Converts a guest `i32` pointer or size to the unsigned value it denotes.
pub fn arg(v: i32) -> u32 {
    v as u32
}

fn range(mem_len: usize, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Status> {
    let start = usize::try_from(ptr).map_err(|_| Status::InvalidMemoryAccess)?;
    let len = usize::try_from(len).map_err(|_| Status::InvalidMemoryAccess)?;
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    if end > mem_len {
        return Err(Status::InvalidMemoryAccess);
    }
    Ok(start..end)
}

/// The `len` bytes at `ptr`.
pub fn slice(mem: &[u8], ptr: u32, len: u32) -> Result<&[u8], Status> {
    let r = range(mem.len(), ptr, len)?;
    mem.get(r).ok_or(Status::InvalidMemoryAccess)
}

/// A copy of the `len` bytes at `ptr`.
pub fn read_bytes(mem: &[u8], ptr: u32, len: u32) -> Result<Vec<u8>, Status> {
    slice(mem, ptr, len).map(<[u8]>::to_vec)
}

/// The `len` bytes at `ptr` as text (invalid UTF-8 replaced, as header bytes may be anything).
pub fn read_string(mem: &[u8], ptr: u32, len: u32) -> Result<String, Status> {
    slice(mem, ptr, len).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Little-endian `u32` at `ptr`.
pub fn read_u32(mem: &[u8], ptr: u32) -> Result<u32, Status> {
    let b = slice(mem, ptr, 4)?;
    let a: [u8; 4] = b.try_into().map_err(|_| Status::InvalidMemoryAccess)?;
    Ok(u32::from_le_bytes(a))
}

/// Writes `bytes` at `ptr`.
pub fn write_bytes(mem: &mut [u8], ptr: u32, bytes: &[u8]) -> Result<(), Status> {
    let len = u32::try_from(bytes.len()).map_err(|_| Status::InvalidMemoryAccess)?;
    let r = range(mem.len(), ptr, len)?;
    mem.get_mut(r)
        .ok_or(Status::InvalidMemoryAccess)?
        .copy_from_slice(bytes);
    Ok(())
}

/// Writes a little-endian `u32` at `ptr`.
pub fn write_u32(mem: &mut [u8], ptr: u32, v: u32) -> Result<(), Status> {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

/// Writes a little-endian `u64` at `ptr`.
pub fn write_u64(mem: &mut [u8], ptr: u32, v: u64) -> Result<(), Status> {
    write_bytes(mem, ptr, &v.to_le_bytes())
}

/// Checks that `len` bytes at `ptr` are writable without writing them.
pub fn check(mem: &[u8], ptr: u32, len: u32) -> Result<(), Status> {
    range(mem.len(), ptr, len).map(|_| ())
}
