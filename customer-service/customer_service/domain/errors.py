"""Why a command was refused: one class per business rule, named by its error code.

A refusal carries its ``code``, the attribute it concerns (``field``, a model name), the
values a surface may quote (``params``) and a default message. Each API surface words it
in its own terms through one message table keyed by the code
(``entrypoints/*/wording.py``); a surface without an entry shows the default message."""
from __future__ import annotations

from typing import ClassVar, Iterable, Mapping

from crm_common.errors import AppError


class DomainError(AppError):
    code: ClassVar[str] = "CONFLICT"
    status: ClassVar[int] = 409
    template: ClassVar[str] = "资源冲突"
    field: str | None = None

    def __init__(self, *, field: str | None = None, **params):
        if field is not None:
            self.field = field
        self.params = params
        message = self.template.format(**params)
        super().__init__(message, error_code=self.code,
                         errors={self.field: [message]} if self.field else None)


class Refusals(DomainError):
    """Several refusals of one record at once (a code and a name both taken): the status,
    code and message of the first, the fields of all."""

    def __init__(self, refusals: Iterable[DomainError]):
        self.refusals = list(refusals)
        first = self.refusals[0]
        self.code, self.status, self.template = first.code, first.status, first.template
        AppError.__init__(self, first.message, error_code=first.code,
                          errors={k: v for r in self.refusals for k, v in (r.errors or {}).items()})
        self.params = first.params

    @classmethod
    def of(cls, refusals: list[DomainError]) -> DomainError:
        return refusals[0] if len(refusals) == 1 else cls(refusals)


class BatchRefused(DomainError):
    """An all-or-nothing batch refused as a whole: ``items`` maps each failing item's index
    to its refusal; nothing was written."""
    status, code, template = 400, "BATCH_REFUSED", "{count} 个客户数据有误，未导入任何客户"

    def __init__(self, items: Mapping[int, DomainError]):
        self.items = dict(sorted(items.items()))
        super().__init__(count=len(self.items))
        self.errors = {f"{index}.{key}": messages for index, refusal in self.items.items()
                       for key, messages in (refusal.errors or {}).items()}


# --- customers ----------------------------------------------------------------------------

class CustomerNotFound(DomainError):
    status, code, template = 404, "CUSTOMER_NOT_FOUND", "客户不存在或已被删除"


class NameTaken(DomainError):
    """``earlier``: the index of an earlier record of the same batch that uses the name."""
    status, code, template, field = 409, "CUSTOMER_NAME_TAKEN", "客户名称已存在", "name"


class CodeTaken(DomainError):
    status, code, template, field = 409, "CUSTOMER_CODE_TAKEN", "客户代码已存在", "customer_code"


class UserIdTaken(DomainError):
    status, code, template, field = 409, "CUSTOMER_USER_ID_TAKEN", "该 userId 的客户已存在", "external_user_id"


class CodeImmutable(DomainError):
    status, code, template, field = 400, "CUSTOMER_CODE_IMMUTABLE", "客户代码创建后不可修改", "customer_code"


class CustomerHasDebt(DomainError):
    status, code, template, field = 409, "CUSTOMER_HAS_DEBT", "客户存在欠款 {amount}，不能删除", "current_balance"


class CustomerHasOpenOrders(DomainError):
    status, code, template = 409, "CUSTOMER_HAS_OPEN_ORDERS", "客户有未完成订单，无法删除"


class TransitionNotAllowed(DomainError):
    status, code, template, field = 409, "STATUS_TRANSITION_NOT_ALLOWED", "客户状态不能从 {current} 变更为 {target}", \
        "status"


class VersionMismatch(DomainError):
    status, code, template = 412, "VERSION_MISMATCH", "客户已被修改（当前版本 {current}），请刷新后重试"


class FinanceRoleRequired(DomainError):
    """Money figures (credit limit, an opening balance) are set by finance roles only."""
    status, code, template = 403, "FINANCE_ROLE_REQUIRED", "修改信用额度或余额需要工厂管理员或财务管理员权限"


class CustomerDeleted(DomainError):
    status, code, template, field = 409, "CUSTOMER_DELETED", "该客户已被删除", "external_user_id"


class AlreadyImported(DomainError):
    status, code, template, field = 409, "CUSTOMER_ALREADY_IMPORTED", "该外部记录已导入为客户 {customer_id}，不会重复创建", \
        "external_sync.remote_id"


class ConcurrentWrite(DomainError):
    """A concurrent writer took a name or code, or held a lock, while this write ran."""
    status, code, template = 409, "CONCURRENT_WRITE", "并发冲突，请稍后重试"


# --- companies -----------------------------------------------------------------------------

class CompanyNotFound(DomainError):
    status, code, template, field = 404, "COMPANY_NOT_FOUND", "公司不存在", "company.id"


class CompanyNameRequired(DomainError):
    """No company has the key, and a new one needs a name (seed 003 answers COMPANY_NOT_FOUND)."""
    status, code, template, field = 400, "COMPANY_NOT_FOUND", "新公司需要名称", "company.name"


class CompanyKeyRequired(DomainError):
    status, code, template, field = 400, "COMPANY_KEY_REQUIRED", "公司需要 id、company_code 或 source + source_ref_id 之一", \
        "company"


class CompanySourceRequired(DomainError):
    status, code, template, field = 400, "COMPANY_SOURCE_REQUIRED", "提供 source_ref_id 时必须同时提供 source", "source"


class CompanyTaken(DomainError):
    status, code, template = 409, "COMPANY_DUPLICATED", "公司已存在（并发写入），请重试"


# --- groups --------------------------------------------------------------------------------

class GroupNotFound(DomainError):
    status, code, template = 404, "GROUP_NOT_FOUND", "客户分组不存在"


class GroupNameTaken(DomainError):
    status, code, template, field = 409, "GROUP_DUPLICATED", "分组名称已存在", "name"


class MembersNotFound(DomainError):
    status, code, template, field = 400, "MEMBERS_NOT_FOUND", "客户不存在或已被删除: {ids}", "customer_ids"


class MembersOfAnotherDomain(DomainError):
    status, code, template, field = 409, "CUSTOMER_DOMAIN_MISMATCH", "以下客户不属于业务域 {domain}: {ids}", "customer_ids"


class MemberLimitExceeded(DomainError):
    status, code, template, field = 409, "GROUP_MEMBER_LIMIT_EXCEEDED", "分组最多 {limit} 个成员，本次提交 {count} 个", \
        "customer_ids"


# --- Idempotency-Key (bulk API) -------------------------------------------------------------

class KeyReused(DomainError):
    status, code, template, field = 422, "IDEMPOTENCY_KEY_REUSED", "该 Idempotency-Key 已用于不同的请求内容", \
        "Idempotency-Key"


class KeyOfAnotherUser(DomainError):
    status, code, template, field = 422, "IDEMPOTENCY_KEY_OF_ANOTHER_USER", \
        "该 Idempotency-Key 已被其他用户使用，请为本次请求生成新的键", "Idempotency-Key"


class KeyInProgress(DomainError):
    status, code, template = 409, "IDEMPOTENCY_IN_PROGRESS", "相同 Idempotency-Key 的请求正在处理中，请稍后重试"


# --- import from the third party's MySQL (issue 21) ----------------------------------------

class InvalidExternalRecord(DomainError):
    """A third-party record that breaks our rules: audited as FAILED, never imported."""
    status, code, template = 422, "EXTERNAL_RECORD_INVALID", "外部记录数据有误：{detail}"

    def __init__(self, problems: Mapping[str, str]):
        super().__init__(detail="；".join(f"{k} {v}" for k, v in problems.items()))
        self.errors = {k: [v] for k, v in problems.items()}


class ExternalImportOff(DomainError):
    status, code, template = 409, "EXTERNAL_IMPORT_DISABLED", \
        "外部 MySQL 导入未启用（未配置 EXTERNAL_MYSQL_URL）"


class SyncRunInProgress(DomainError):
    status, code, template = 409, "EXTERNAL_SYNC_RUNNING", "来源 {source} 的同步正在运行（运行 {run_id}），请稍后再试"


class SyncRunNotFound(DomainError):
    status, code, template = 404, "EXTERNAL_SYNC_RUN_NOT_FOUND", "同步运行不存在"
