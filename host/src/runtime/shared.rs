//! State shared by every worker of a pool (host-wide, as in Envoy): shared data with CAS, shared
//! queues and metrics. Plain data behind mutexes; no wasmtime, no guest memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::abi::Status;
use crate::limits::Limits;
use crate::runtime::{Inbox, Msg};

/// The three metric kinds of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn from_abi(v: i32) -> Option<Self> {
        match v {
            0 => Some(Self::Counter),
            1 => Some(Self::Gauge),
            2 => Some(Self::Histogram),
            _ => None,
        }
    }
}

/// One value for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSample {
    pub name: String,
    pub kind: MetricKind,
    pub value: u64,
}

#[derive(Debug)]
struct Metric {
    name: String,
    kind: MetricKind,
    value: i64,
    count: u64,
}

/// Who hears `proxy_on_queue_ready` for a queue: the context that registered it last.
#[derive(Debug, Clone)]
pub(crate) struct QueueOwner {
    pub(crate) inbox: Inbox,
    pub(crate) generation: u64,
    pub(crate) context: u32,
}

#[derive(Debug)]
struct Queue {
    owner: QueueOwner,
    items: VecDeque<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Data {
    map: HashMap<String, (Vec<u8>, u32)>,
    bytes: usize,
    next_cas: u32,
}

#[derive(Debug, Default)]
struct Queues {
    by_name: HashMap<(String, String), u32>,
    by_id: HashMap<u32, Queue>,
}

/// Host-wide shared state.
#[derive(Debug)]
pub struct Shared {
    limits: Limits,
    data: Mutex<Data>,
    queues: Mutex<Queues>,
    metrics: Mutex<Vec<Metric>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A guest cannot panic the host while it holds one of these locks; recover the data anyway.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            data: Mutex::new(Data::default()),
            queues: Mutex::new(Queues::default()),
            metrics: Mutex::new(Vec::new()),
        }
    }

    /// The value and its CAS token.
    pub fn get_shared_data(&self, key: &str) -> Result<(Vec<u8>, u32), Status> {
        lock(&self.data)
            .map
            .get(key)
            .cloned()
            .ok_or(Status::NotFound)
    }

    /// The value appended to `out` (no copy of it made on the way), and its CAS token.
    pub fn get_shared_data_into(&self, key: &str, out: &mut Vec<u8>) -> Result<u32, Status> {
        let d = lock(&self.data);
        let (value, cas) = d.map.get(key).ok_or(Status::NotFound)?;
        out.extend_from_slice(value);
        Ok(*cas)
    }

    /// Sets `key`; a non-zero `cas` must match the current token of an existing key.
    pub fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        let mut d = lock(&self.data);
        let old_len = match d.map.get(key) {
            Some((v, token)) => {
                if cas != 0 && cas != *token {
                    return Err(Status::CasMismatch);
                }
                key.len() + v.len()
            }
            None => 0,
        };
        let new_total = d.bytes - old_len + key.len() + value.len();
        if new_total > self.limits.max_shared_data_bytes {
            return Err(Status::InternalFailure);
        }
        d.next_cas = d.next_cas.wrapping_add(1).max(1);
        let token = d.next_cas;
        d.map.insert(key.to_string(), (value.to_vec(), token));
        d.bytes = new_total;
        Ok(())
    }

    pub(crate) fn register_queue(&self, vm_id: &str, name: &str, owner: QueueOwner) -> u32 {
        let mut q = lock(&self.queues);
        let key = (vm_id.to_string(), name.to_string());
        if let Some(id) = q.by_name.get(&key).copied() {
            if let Some(queue) = q.by_id.get_mut(&id) {
                queue.owner = owner;
            }
            return id;
        }
        let id = u32::try_from(q.by_id.len() + 1).unwrap_or(u32::MAX);
        q.by_name.insert(key, id);
        q.by_id.insert(
            id,
            Queue {
                owner,
                items: VecDeque::new(),
            },
        );
        id
    }

    pub fn resolve_queue(&self, vm_id: &str, name: &str) -> Result<u32, Status> {
        let q = lock(&self.queues);
        q.by_name
            .get(&(vm_id.to_string(), name.to_string()))
            .copied()
            .ok_or(Status::NotFound)
    }

    /// Enqueues and tells the owner, on its worker, that the queue has data.
    pub fn enqueue(&self, id: u32, value: &[u8]) -> Result<(), Status> {
        let owner = {
            let mut q = lock(&self.queues);
            let queue = q.by_id.get_mut(&id).ok_or(Status::NotFound)?;
            if queue.items.len() >= self.limits.max_shared_queue_items {
                return Err(Status::InternalFailure);
            }
            queue.items.push_back(value.to_vec());
            queue.owner.clone()
        };
        let _ = owner.inbox.send(Msg::QueueReady {
            generation: owner.generation,
            context: owner.context,
            queue_id: id,
        });
        Ok(())
    }

    pub fn dequeue(&self, id: u32) -> Result<Vec<u8>, Status> {
        let mut q = lock(&self.queues);
        let queue = q.by_id.get_mut(&id).ok_or(Status::NotFound)?;
        queue.items.pop_front().ok_or(Status::Empty)
    }

    /// Defines (or finds) a metric by name and kind; ids are host-wide.
    pub fn define_metric(&self, kind: MetricKind, name: &str) -> u32 {
        let mut m = lock(&self.metrics);
        if let Some(i) = m.iter().position(|x| x.name == name && x.kind == kind) {
            return u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        m.push(Metric {
            name: name.to_string(),
            kind,
            value: 0,
            count: 0,
        });
        u32::try_from(m.len()).unwrap_or(u32::MAX)
    }

    pub fn increment_metric(&self, id: u32, delta: i64) -> Result<(), Status> {
        let mut m = lock(&self.metrics);
        let metric = metric_mut(&mut m, id)?;
        match metric.kind {
            MetricKind::Counter if delta < 0 => Err(Status::BadArgument),
            MetricKind::Counter | MetricKind::Gauge => {
                metric.value = metric.value.saturating_add(delta);
                Ok(())
            }
            MetricKind::Histogram => Err(Status::BadArgument),
        }
    }

    pub fn record_metric(&self, id: u32, value: u64) -> Result<(), Status> {
        let mut m = lock(&self.metrics);
        let metric = metric_mut(&mut m, id)?;
        let v = i64::try_from(value).unwrap_or(i64::MAX);
        match metric.kind {
            // Envoy records a counter by raising it to the value; it never goes down.
            MetricKind::Counter => metric.value = metric.value.max(v),
            MetricKind::Gauge => metric.value = v,
            MetricKind::Histogram => {
                metric.value = metric.value.saturating_add(v);
                metric.count = metric.count.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Counter and gauge values; for a histogram, the sum of recorded values.
    pub fn get_metric(&self, id: u32) -> Result<u64, Status> {
        let mut m = lock(&self.metrics);
        let metric = metric_mut(&mut m, id)?;
        Ok(u64::try_from(metric.value).unwrap_or(0))
    }

    /// Current value of the first metric with this name (gauges below zero read as 0).
    pub fn metric_by_name(&self, name: &str) -> Option<u64> {
        let m = lock(&self.metrics);
        m.iter()
            .find(|x| x.name == name)
            .map(|x| u64::try_from(x.value).unwrap_or(0))
    }

    /// Adds `delta` to a host-side counter, defining it on first use.
    pub(crate) fn bump_host_counter(&self, name: &str, delta: u64) {
        let id = self.define_metric(MetricKind::Counter, name);
        let _ = self.increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX));
    }

    pub fn metric_samples(&self) -> Vec<MetricSample> {
        let m = lock(&self.metrics);
        let mut out = Vec::with_capacity(m.len());
        for x in m.iter() {
            let value = u64::try_from(x.value).unwrap_or(0);
            if x.kind == MetricKind::Histogram {
                out.push(MetricSample {
                    name: format!("{}_count", x.name),
                    kind: x.kind,
                    value: x.count,
                });
                out.push(MetricSample {
                    name: format!("{}_sum", x.name),
                    kind: x.kind,
                    value,
                });
            } else {
                out.push(MetricSample {
                    name: x.name.clone(),
                    kind: x.kind,
                    value,
                });
            }
        }
        out
    }
}

fn metric_mut(m: &mut [Metric], id: u32) -> Result<&mut Metric, Status> {
    let i = usize::try_from(id).ok().and_then(|i| i.checked_sub(1));
    i.and_then(|i| m.get_mut(i)).ok_or(Status::NotFound)
}
