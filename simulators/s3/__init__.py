"""S3 for the lab: rclone serve s3 over HTTPS, moto's server for AWS-only features, and a fault
proxy (see README.md)."""

from .fault_proxy import FaultProxy
from .moto_server import MotoServer
from .server import S3Server, client_for, find_rclone, lab_server

__all__ = ["FaultProxy", "MotoServer", "S3Server", "client_for", "find_rclone", "lab_server"]
