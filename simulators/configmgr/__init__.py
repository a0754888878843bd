"""ConfigMgr AdminService simulator (OData v4 over HTTPS) for collections, software updates and compliance."""

from .model import SiteModel
from .server import ConfigMgrServer

__all__ = ["ConfigMgrServer", "SiteModel"]
