"""Job bundles: read a bundle directory, merge its parameters, build the CreateJob request."""

from ._debug_snapshot import write_debug_snapshot
from ._hooks import Hook, HookSet, describe_hooks, read_hooks, run_hooks
from ._loader import (
    AssetReferences,
    JobBundleTemplate,
    check_bundle_containment,
    describe_template_error,
    read_asset_references,
    read_job_template,
    read_parameter_values,
    validate_job_template,
)
from ._parameters import (
    APP_PARAMETER_FIELDS,
    PARAMETER_TYPES,
    apply_job_parameters,
    merge_queue_job_parameters,
    parameter_definition_difference,
    parameter_value_to_api,
    read_job_bundle_parameters,
    split_parameter_args,
    validate_parameter_definition,
    validate_parameter_value,
)

__all__ = [
    "APP_PARAMETER_FIELDS",
    "PARAMETER_TYPES",
    "AssetReferences",
    "Hook",
    "HookSet",
    "JobBundleTemplate",
    "apply_job_parameters",
    "check_bundle_containment",
    "describe_hooks",
    "describe_template_error",
    "merge_queue_job_parameters",
    "parameter_definition_difference",
    "parameter_value_to_api",
    "read_asset_references",
    "read_hooks",
    "read_job_bundle_parameters",
    "read_job_template",
    "read_parameter_values",
    "run_hooks",
    "split_parameter_args",
    "validate_job_template",
    "validate_parameter_definition",
    "validate_parameter_value",
    "write_debug_snapshot",
]
