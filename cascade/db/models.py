"""Cascade's tables. Migrations in `migrations/versions` must match these models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# MySQL/MariaDB DATETIME keeps whole seconds unless asked; lists sort by creation time.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(DeclarativeBase):
    pass


class Pod(Base):
    """A bottom OpenStack cloud serving one top availability zone: a region of the top's
    Keystone (`identity` `shared`) or a cloud with a Keystone of its own at `auth_url`
    (`independent`), where Cascade signs in with `credentials` (a secret: never shown,
    never logged; `pods.identities`)."""

    __tablename__ = "pods"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    region_name: Mapped[str] = mapped_column(String(255), unique=True)
    az: Mapped[str] = mapped_column(String(255), index=True)
    pod_az: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # active; maintenance (what it hosts keeps working, nothing new goes there); draining
    # (what it hosts is being moved out): only an enabled, active pod takes new resources
    state: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    weight: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    health_state: Mapped[str] = mapped_column(String(16), default="unknown")
    health_checked_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    health_latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    health_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the pod services (`pods.client` names) the last check found failing: the API
    # processes open their breakers from it (`services.breakers`)
    health_failing: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # the microversion ranges the pod's services answered last (`versions.encode`), kept
    # by the health check: the top's advertised range is one query over these
    compute_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    compute_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volume_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volume_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    identity: Mapped[str] = mapped_column(String(16), default="shared", server_default="shared")
    auth_url: Mapped[str | None] = mapped_column(String(255), nullable=True)
    credentials: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # an independent pod's region in its own catalog (None: `region_name`, which must be
    # unique at the top while many clouds call their one region `RegionOne`)
    catalog_region: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)

    @property
    def takes_new(self) -> bool:
        """Whether new resources may be placed here (enabled, neither in maintenance nor
        draining); what the pod hosts is served whatever its state."""
        return bool(self.enabled) and (self.state or "active") == "active"


class PodProject(Base):
    """Top project `project_id` is project `pod_project_id` in independent pod `pod_id`
    (made there on first use, or mapped by an admin to a project the pod had)."""

    __tablename__ = "pod_projects"
    __table_args__ = (UniqueConstraint("pod_id", "pod_project_id"),)

    pod_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("pods.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pod_project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class PodUser(Base):
    """Top user `user_id` is user `pod_user_id` in independent pod `pod_id` (made there by
    Cascade on first use, with a password derived from the pod's credentials)."""

    __tablename__ = "pod_users"
    __table_args__ = (UniqueConstraint("pod_id", "pod_user_id"),)

    pod_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("pods.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pod_user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Routing(Base):
    """Top resource `top_id` lives in pod `pod_id` as `bottom_id`.

    The row is written before the bottom object is created (`bottom_id` still
    empty, status `creating`): the intent survives a crash, and the bottom
    object, named after the top id, can always be found again.
    """

    __tablename__ = "routings"
    __table_args__ = (
        UniqueConstraint("resource_type", "top_id", "pod_id"),
        # the pods a project has objects of a kind in (`routed.candidate_pods`), read
        # from the index alone
        Index("ix_routings_project_kind_pod", "project_id", "resource_type", "pod_id"),
        # a project's newest objects of a kind and their pods (`routed.newest_pods`)
        Index(
            "ix_routings_project_kind_created",
            "project_id",
            "resource_type",
            "created_at",
            "pod_id",
        ),
        # the pods a project has recent objects of any kind in (`routed.newest_pods`)
        Index("ix_routings_project_created", "project_id", "created_at", "pod_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    top_id: Mapped[str] = mapped_column(String(64), index=True)
    pod_id: Mapped[str] = mapped_column(ForeignKey("pods.id"), index=True)
    bottom_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # what a create's intent holds of its project's quota while in flight (quota name ->
    # amount); None for routings that reserve nothing (copies, routings found later)
    reserved: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)


class ProjectLock(Base):
    """One row per project, written first by a transaction that checks the project's
    quota and reserves from it (`quota_core.serialise`): such transactions of one project
    run one at a time, on MariaDB as on SQLite."""

    __tablename__ = "project_locks"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class Lease(Base):
    """A duty one process of many does at a time (`services/leases.py`): the periodic
    health check and sweep, whichever cascade-worker (or cascade-api with its embedded
    worker) holds `health`."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class Binding(Base):
    """The pod of an availability zone that a project's new resources go to."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("project_id", "az"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    az: Mapped[str] = mapped_column(String(255))
    pod_id: Mapped[str] = mapped_column(ForeignKey("pods.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class Flavor(Base):
    """A flavor owned by the top; pods get a copy (a `flavor` routing) when a server needs it."""

    __tablename__ = "flavors"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Nova's flavorid
    name: Mapped[str] = mapped_column(String(255), unique=True)
    ram: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[int] = mapped_column(Integer)
    disk: Mapped[int] = mapped_column(Integer)
    ephemeral: Mapped[int] = mapped_column(Integer, default=0)
    swap: Mapped[int] = mapped_column(Integer, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class RetiredFlavor(Base):
    """A deleted top flavor that pod copies still stand for.

    Nova keeps a server's flavor embedded, so a server booted from a flavor that
    is later deleted still shows that flavor's id and name. The pod copies stay,
    their routings become `flavor-retired` ones, and this row keeps the name the
    server views show for them.
    """

    __tablename__ = "retired_flavors"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Nova's flavorid
    name: Mapped[str] = mapped_column(String(255))


class FlavorAccess(Base):
    """A project allowed to use a private flavor."""

    __tablename__ = "flavor_access"
    __table_args__ = (UniqueConstraint("flavor_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(String(255))


class VolumeType(Base):
    """A volume type owned by the top; pods get a copy (a `volume_type` routing) when a
    volume needs it."""

    __tablename__ = "volume_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Cinder's encryption type: provider, control_location, cipher, key_size, encryption_id
    encryption: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    qos_specs_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class GroupType(Base):
    """A Cinder group type owned by the top; pods get a copy (a `group_type` routing) when
    a group needs it."""

    __tablename__ = "group_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    group_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class DefaultType(Base):
    """A project's default volume type (Cinder's `/default-types`), set at the top."""

    __tablename__ = "default_types"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    volume_type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), index=True
    )


class QosSpecs(Base):
    """QoS specs owned by the top; a pod gets a copy with a volume type associated with them."""

    __tablename__ = "qos_specs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16))
    specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class VolumeTypeAccess(Base):
    """A project allowed to use a private volume type."""

    __tablename__ = "volume_type_access"
    __table_args__ = (UniqueConstraint("volume_type_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    volume_type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(String(255))


class Keypair(Base):
    """A keypair owned by the top, per user; pods get a copy (a `keypair` routing) on use."""

    __tablename__ = "keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="ssh")
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Quota(Base):
    """A project's own compute limit for one resource, over the `[quota]` default (-1:
    unlimited). Enforced at the top against the usage summed over every pod."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class UserQuota(Base):
    """A user's own compute limit for one resource within a project, over the project's
    limit (Nova's per-user quotas, `?user_id=`); -1: unlimited."""

    __tablename__ = "user_quotas"
    __table_args__ = (UniqueConstraint("project_id", "user_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class QuotaClass(Base):
    """A quota class's limit for one resource (os-quota-class-sets). Only the class
    `default` is used: it overrides the `[quota]` default of every project."""

    __tablename__ = "quota_classes"
    __table_args__ = (UniqueConstraint("class_name", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    class_name: Mapped[str] = mapped_column(String(255), index=True)
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Job(Base):
    """Durable asynchronous work, written in the same transaction as the state change that
    needs it; (type, resource_id) is the dedup key: the latest queued request wins."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_after", "id"),
        Index("ix_jobs_resource", "type", "resource_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # queued running done failed superseded
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(Timestamp)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class NetResource(Base):
    """A Networking API object owned by the top: network, subnet, port, security group,
    security group rule, router or floating IP.

    `body` holds the object's own Neutron attributes; the standard attributes (id,
    project, tags, revision, timestamps) are columns. `parent_id` is the network of a
    subnet or port and the group of a rule, so children are found without a scan.
    """

    __tablename__ = "net_resources"
    __table_args__ = (
        Index("ix_net_resources_kind_project", "kind", "project_id"),
        Index("ix_net_resources_kind_parent", "kind", "parent_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class NetAddress(Base):
    """One fixed IP of a network, held by a top port or reserved for a pod (its DHCP
    port); the primary key is what makes two allocations of one address impossible."""

    __tablename__ = "net_addresses"

    network_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(String(36), index=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)  # port id or pod:<id>:<subnet>


class NetMac(Base):
    """A MAC address handed out by the top; unique across every network and pod."""

    __tablename__ = "net_macs"

    mac_address: Mapped[str] = mapped_column(String(17), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128), index=True)


class NetSegment(Base):
    """A VLAN id of the shared physical network, held by one top network."""

    __tablename__ = "net_segments"

    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[str] = mapped_column(String(36), unique=True)


class Audit(Base):
    """One audit run (`services/audits.py`): what the top records compared with what its
    pods have, in one pod or all; it reports findings and changes nothing."""

    __tablename__ = "audits"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pod_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # None: every pod
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued running done failed
    trigger: Mapped[str] = mapped_column(String(16))  # admin, periodic
    # findings by code (`{"orphan": 2}`), pods audited, pods that could not be asked
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    pods_audited: Mapped[int] = mapped_column(Integer, default=0)
    pods_unavailable: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class AuditFinding(Base):
    """One difference an audit found between the top and a pod, and its repair if an
    operator asked for it (`repair_status`: None, queued, done, failed)."""

    __tablename__ = "audit_findings"
    __table_args__ = (Index("ix_audit_findings_audit_created", "audit_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    audit_id: Mapped[str] = mapped_column(ForeignKey("audits.id", ondelete="CASCADE"))
    pod_id: Mapped[str] = mapped_column(String(36))
    code: Mapped[str] = mapped_column(String(16))  # orphan missing stale differs status
    resource_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))  # error warning
    top_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bottom_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    routing_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    # what differs, field by field: {"extra_specs": {"top": ..., "pod": ...}}
    differences: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    repairs: Mapped[list[str]] = mapped_column(JSON, default=list)  # the actions offered
    repair_action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    repair_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    repair_job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    repair_result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Move(Base):
    """A server on its way to another pod (`services/compute/moves.py`): made again in
    the target pod from an image of it, the source deleted only once an admin confirms
    (Nova's cold migration across cells: RESIZE, VERIFY_RESIZE, confirm or revert)."""

    __tablename__ = "moves"
    __table_args__ = (Index("ix_moves_kind_top", "resource_type", "top_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    top_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    source_pod_id: Mapped[str] = mapped_column(String(36))
    source_bottom_id: Mapped[str] = mapped_column(String(64))
    target_pod_id: Mapped[str] = mapped_column(String(36), index=True)
    target_bottom_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # queued snapshotting booting verify confirming reverting done reverted failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    image_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # what the move learnt of the source: was it running, its flavor, keypair, ports
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    drain_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class Drain(Base):
    """A pod being emptied (`services/drains.py`): what it hosts moved to other pods, one
    move per server, confirmed as each target is ACTIVE; paused, resumed or cancelled by
    an admin."""

    __tablename__ = "drains"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pod_id: Mapped[str] = mapped_column(String(36), index=True)
    # running paused cancelling cancelled done incomplete
    status: Mapped[str] = mapped_column(String(16))
    azs: Mapped[list[str]] = mapped_column(JSON, default=list)  # where things may go
    state_before: Mapped[str] = mapped_column(String(16))  # the pod's, given back on cancel
    # what could not be moved: [{"resource_type", "top_id", "reason"}]
    left: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
