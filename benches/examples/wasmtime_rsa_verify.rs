//! Runs the wasm32-wasip1 build of `wasm_rsa_verify` in wasmtime, configured as the host
//! configures it (Cranelift, epoch interruption on), so the timings are those the filter sees
//! in `oidc-host`. It provides the six WASI calls that program and `wasm_request` import
//! (arguments-free environment, a monotonic clock, writes to stdout/stderr, random bytes from
//! `/dev/urandom`, exit) and nothing else.
//!
//! `cargo run -p oidc-benches --features wasmtime --example wasmtime_rsa_verify -- <wasm file>`

use std::io::Write as _;
use std::time::Instant;

use wasmtime::{Caller, Config, Engine, Extern, Linker, Memory, Module, Store};

type Failure = Box<dyn std::error::Error + Send + Sync>;

const WASI: &str = "wasi_snapshot_preview1";
/// WASI errno for a bad file descriptor or memory access.
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
/// WASI errno for an I/O error.
const EIO: i32 = 29;

fn memory(caller: &mut Caller<'_, Instant>) -> Option<Memory> {
    caller.get_export("memory").and_then(Extern::into_memory)
}

fn write_u32(caller: &mut Caller<'_, Instant>, at: i32, value: u32) -> i32 {
    match memory(caller) {
        Some(mem)
            if mem
                .write(&mut *caller, at as usize, &value.to_le_bytes())
                .is_ok() =>
        {
            0
        }
        _ => EFAULT,
    }
}

/// `fd_write`: gathers the iovecs and writes them to stdout (1) or stderr (2).
fn fd_write(mut caller: Caller<'_, Instant>, fd: i32, iovs: i32, count: i32, written: i32) -> i32 {
    let Some(mem) = memory(&mut caller) else {
        return EFAULT;
    };
    let mut bytes = Vec::new();
    for i in 0..count.max(0) as usize {
        let mut iov = [0u8; 8];
        if mem.read(&caller, iovs as usize + 8 * i, &mut iov).is_err() {
            return EFAULT;
        }
        let [p0, p1, p2, p3, l0, l1, l2, l3] = iov;
        let ptr = u32::from_le_bytes([p0, p1, p2, p3]) as usize;
        let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
        let Some(data) = mem.data(&caller).get(ptr..ptr + len) else {
            return EFAULT;
        };
        bytes.extend_from_slice(data);
    }
    let ok = match fd {
        1 => std::io::stdout().write_all(&bytes).is_ok(),
        2 => std::io::stderr().write_all(&bytes).is_ok(),
        _ => return EBADF,
    };
    if !ok {
        return EBADF;
    }
    write_u32(&mut caller, written, bytes.len() as u32)
}

/// `random_get`: fills the buffer from the operating system's random source.
fn random_get(mut caller: Caller<'_, Instant>, at: i32, len: i32) -> i32 {
    use std::io::Read as _;
    let mut bytes = vec![0u8; len.max(0) as usize];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        return EIO;
    }
    match memory(&mut caller) {
        Some(mem) if mem.write(&mut caller, at as usize, &bytes).is_ok() => 0,
        _ => EFAULT,
    }
}

fn main() -> Result<(), Failure> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: wasmtime_rsa_verify <wasm_rsa_verify.wasm>")?;
    let mut config = Config::new();
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let module = Module::from_file(&engine, &path)?;
    let mut store = Store::new(&engine, Instant::now());
    store.set_epoch_deadline(u64::MAX);
    let mut linker: Linker<Instant> = Linker::new(&engine);
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut c: Caller<'_, Instant>, n: i32, size: i32| {
            let status = write_u32(&mut c, n, 0);
            if status != 0 {
                return status;
            }
            write_u32(&mut c, size, 0)
        },
    )?;
    linker.func_wrap(WASI, "environ_get", |_: i32, _: i32| 0i32)?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut c: Caller<'_, Instant>, _id: i32, _precision: i64, out: i32| {
            let nanos = c.data().elapsed().as_nanos() as u64;
            match memory(&mut c) {
                Some(mem)
                    if mem
                        .write(&mut c, out as usize, &nanos.to_le_bytes())
                        .is_ok() =>
                {
                    0
                }
                _ => EFAULT,
            }
        },
    )?;
    linker.func_wrap(WASI, "fd_write", fd_write)?;
    linker.func_wrap(WASI, "random_get", random_get)?;
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> wasmtime::Result<()> {
        std::process::exit(code)
    })?;
    let instance = linker.instantiate(&mut store, &module)?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
    start.call(&mut store, ())?;
    Ok(())
}
