//! Guest-memory and header-map helpers against memory backed by a `Vec<u8>`.

use oidc_host::abi::map::{deserialize, serialize};
use oidc_host::abi::memory::{
    read_bytes, read_string, read_u32, slice, write_bytes, write_u32, write_u64,
};
use oidc_host::abi::Status;

#[test]
fn reads_and_writes_inside_memory() {
    let mut mem = vec![0u8; 64];
    write_u32(&mut mem, 4, 0xdead_beef).unwrap();
    assert_eq!(read_u32(&mem, 4).unwrap(), 0xdead_beef);
    write_u64(&mut mem, 8, u64::MAX - 1).unwrap();
    assert_eq!(&mem[8..16], &(u64::MAX - 1).to_le_bytes());
    write_bytes(&mut mem, 60, b"abcd").unwrap();
    assert_eq!(read_string(&mem, 60, 4).unwrap(), "abcd");
    assert_eq!(read_bytes(&mem, 64, 0).unwrap(), Vec::<u8>::new());
}

#[test]
fn out_of_bounds_pointers_are_invalid_memory_access_not_panics() {
    let mut mem = vec![0u8; 64];
    for (ptr, len) in [
        (61, 4),
        (64, 1),
        (u32::MAX, 1),
        (u32::MAX - 2, 4),
        (0, u32::MAX),
    ] {
        assert_eq!(
            slice(&mem, ptr, len),
            Err(Status::InvalidMemoryAccess),
            "{ptr}+{len}"
        );
    }
    assert_eq!(write_u32(&mut mem, 61, 1), Err(Status::InvalidMemoryAccess));
    assert_eq!(
        write_u64(&mut mem, u32::MAX - 3, 1),
        Err(Status::InvalidMemoryAccess)
    );
    assert_eq!(read_u32(&mem, u32::MAX), Err(Status::InvalidMemoryAccess));
}

#[test]
fn header_maps_round_trip_through_guest_memory() {
    let pairs = vec![
        (":path".to_string(), "/a?b=c".to_string()),
        ("Authorization".to_string(), "Bearer x".to_string()),
        ("empty".to_string(), String::new()),
    ];
    let bytes = serialize(&pairs);
    let mut mem = vec![0u8; 256];
    write_bytes(&mut mem, 10, &bytes).unwrap();
    let back = deserialize(slice(&mem, 10, bytes.len() as u32).unwrap()).unwrap();
    assert_eq!(back, pairs);
}

#[test]
fn both_encodings_of_an_empty_map_deserialize_to_no_pairs() {
    assert_eq!(deserialize(&[]).unwrap(), vec![]);
    assert_eq!(deserialize(&[0, 0, 0, 0]).unwrap(), vec![]);
    assert_eq!(deserialize(&[0]).unwrap(), vec![]);
}

#[test]
fn a_map_whose_sizes_overrun_the_buffer_is_a_bad_argument() {
    let mut bytes = serialize(&[("k".to_string(), "v".to_string())]);
    bytes[4..8].copy_from_slice(&1000u32.to_le_bytes());
    assert_eq!(deserialize(&bytes), Err(Status::BadArgument));
}
