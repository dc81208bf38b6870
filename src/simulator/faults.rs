//! Injected faults (admin surface): the next N calls of an operation fail, are slowed down, or
//! lose their response after the write was done.

use serde::{Deserialize, Serialize};

use super::errors::{ApiError, ApiResult};
use super::operations;

/// The body of `POST /_simulator/faults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// An operation name (`CreateCluster`) or `*` for all.
    pub operation: String,
    /// Answer with this HTTP status (400-599) instead of running the operation.
    #[serde(default)]
    pub status: Option<u16>,
    /// Delay the answer by this many milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Run the operation, then answer 503 as if the response was lost on the way back.
    #[serde(default)]
    pub drop_response: bool,
    /// How many calls the fault applies to.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// An active fault, as listed by `GET /_simulator/faults`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    pub id: u64,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    pub drop_response: bool,
    pub remaining: u32,
}

/// What a request must suffer; taken from at most one fault.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injection {
    pub fault_id: Option<u64>,
    pub latency_ms: Option<u64>,
    pub status: Option<u16>,
    pub drop_response: bool,
}

impl Injection {
    /// A short label for the request log.
    pub fn label(&self) -> Option<&'static str> {
        if self.status.is_some() {
            Some("status")
        } else if self.drop_response {
            Some("drop_response")
        } else if self.latency_ms.is_some() {
            Some("latency")
        } else {
            None
        }
    }
}

#[derive(Debug, Default)]
pub struct FaultRegistry {
    next_id: u64,
    faults: Vec<Fault>,
}

impl FaultRegistry {
    pub fn add(&mut self, spec: FaultSpec) -> ApiResult<Fault> {
        if spec.operation != "*" && !operations::is_known(&spec.operation) {
            return Err(ApiError::invalid(format!(
                "unknown operation {:?}; use an operation name such as CreateCluster, or \"*\"",
                spec.operation
            )));
        }
        if spec.count == 0 {
            return Err(ApiError::invalid("`count` must be at least 1"));
        }
        if let Some(s) = spec.status.filter(|s| !(400..=599).contains(s)) {
            return Err(ApiError::invalid(format!("`status` must be an HTTP error status (400-599), got {s}")));
        }
        if spec.status.is_some() && spec.drop_response {
            return Err(ApiError::invalid("`status` and `drop_response` cannot be combined"));
        }
        if spec.status.is_none() && spec.latency_ms.is_none() && !spec.drop_response {
            return Err(ApiError::invalid("a fault needs one of `status`, `latency_ms` or `drop_response`"));
        }
        self.next_id += 1;
        let fault = Fault {
            id: self.next_id,
            operation: spec.operation,
            status: spec.status,
            latency_ms: spec.latency_ms,
            drop_response: spec.drop_response,
            remaining: spec.count,
        };
        self.faults.push(fault.clone());
        Ok(fault)
    }

    /// Consumes one use of the oldest fault matching `operation`. Faults apply in the order they
    /// were added, at most one per request, so tests can queue "fail twice, then slow once".
    pub fn take(&mut self, operation: &str) -> Injection {
        let Some(index) = self.faults.iter().position(|f| f.operation == "*" || f.operation == operation) else {
            return Injection::default();
        };
        let fault = &mut self.faults[index];
        fault.remaining -= 1;
        let injection = Injection {
            fault_id: Some(fault.id),
            latency_ms: fault.latency_ms,
            status: fault.status,
            drop_response: fault.drop_response,
        };
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        injection
    }

    pub fn list(&self) -> Vec<Fault> {
        self.faults.clone()
    }

    /// Removes every fault; returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.faults).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(op: &str) -> FaultSpec {
        FaultSpec { operation: op.into(), status: None, latency_ms: None, drop_response: false, count: 1 }
    }

    #[test]
    fn faults_apply_in_order_and_run_out() {
        let mut reg = FaultRegistry::default();
        reg.add(FaultSpec { status: Some(503), count: 2, ..spec("CreateCluster") }).unwrap();
        reg.add(FaultSpec { latency_ms: Some(10), ..spec("*") }).unwrap();
        assert_eq!(reg.take("CreateCluster").status, Some(503));
        assert_eq!(reg.take("GetCluster").latency_ms, Some(10));
        assert_eq!(reg.take("CreateCluster").status, Some(503));
        assert_eq!(reg.take("CreateCluster"), Injection::default());
        assert!(reg.list().is_empty());
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut reg = FaultRegistry::default();
        assert!(reg.add(spec("CreateCluster")).unwrap_err().message.contains("needs one of"));
        assert!(reg.add(FaultSpec { status: Some(503), ..spec("MakeCoffee") }).unwrap_err().message.contains("MakeCoffee"));
        assert!(reg.add(FaultSpec { status: Some(200), ..spec("*") }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), drop_response: true, ..spec("*") }).is_err());
        assert!(reg.add(FaultSpec { status: Some(503), count: 0, ..spec("*") }).is_err());
        reg.add(FaultSpec { drop_response: true, count: 3, ..spec("CreateSQLUser") }).unwrap();
        assert_eq!(reg.clear(), 1);
    }
}
