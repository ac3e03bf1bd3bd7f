//! The member's errors as etcd's gRPC statuses: the codes and messages of etcd's `rpctypes`,
//! which etcd-client (like clientv3) shows and matches on.

use tonic::{Code, Status};

use crate::etcd::error::Error;

/// etcd's status for `error`: its message, and the code [`Error::code`] names.
pub(crate) fn status(error: &Error) -> Status {
    let code = match error.code() {
        "OutOfRange" => Code::OutOfRange,
        "NotFound" => Code::NotFound,
        "FailedPrecondition" => Code::FailedPrecondition,
        "InvalidArgument" => Code::InvalidArgument,
        "Unavailable" => Code::Unavailable,
        "DeadlineExceeded" => Code::DeadlineExceeded,
        _ => Code::Internal,
    };
    Status::new(code, error.to_string())
}

/// etcd's `ErrGRPCStopped`: the member this call reached is gone (crashed mid-call).
pub(crate) fn stopped() -> Status {
    Status::unavailable("etcdserver: server stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_etcds() {
        let cases = [
            (Error::NotLeader { leader: None }, Code::FailedPrecondition),
            (Error::NoLeader, Code::Unavailable),
            (Error::Timeout, Code::Unavailable),
            (Error::LeaseTtlTooLarge, Code::OutOfRange),
            (Error::LeaseNotFound, Code::NotFound),
            (
                Error::Compacted {
                    compact_revision: 3,
                },
                Code::OutOfRange,
            ),
            (Error::EmptyKey, Code::InvalidArgument),
        ];
        for (error, code) in cases {
            let status = status(&error);
            assert_eq!(status.code(), code, "{error}");
            assert_eq!(status.message(), error.to_string());
        }
    }
}
