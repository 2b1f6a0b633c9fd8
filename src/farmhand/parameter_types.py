"""Parameter types: the OpenJD type names and the API union member that carries each, once.

CreateJob's `parameters` (the model's `JobParameter`) and a task's `parameters`
(`TaskParameterValue`) are one-key unions such as `{"int": "5"}` or `{"pathList": [...]}`; the key
says the OpenJD type. The client writing them, the server checking and storing them and the worker
handing them to openjd all read this one table (a test checks it against openjd-model and the
botocore model).
"""

from __future__ import annotations

__all__ = [
    "JOB_PARAMETER_MEMBERS",
    "OPENJD_TYPE_OF_MEMBER",
    "STEP_PARAMETER_TYPE_NAMES",
    "TASK_PARAMETER_MEMBERS",
    "UNION_MEMBER_OF_TYPE",
]

#: The API union member of each OpenJD parameter type (openjd-model's `ParameterValueType` values).
UNION_MEMBER_OF_TYPE: dict[str, str] = {
    "INT": "int",
    "FLOAT": "float",
    "STRING": "string",
    "PATH": "path",
    "CHUNK[INT]": "chunkInt",
    "BOOL": "bool",
    "RANGE_EXPR": "rangeExpr",
    "LIST[STRING]": "stringList",
    "LIST[PATH]": "pathList",
    "LIST[INT]": "intList",
    "LIST[FLOAT]": "floatList",
    "LIST[BOOL]": "boolList",
    "LIST[LIST[INT]]": "intListList",
}
OPENJD_TYPE_OF_MEMBER = {member: type_name for type_name, member in UNION_MEMBER_OF_TYPE.items()}

_TASK_TYPES = ("INT", "FLOAT", "STRING", "PATH", "CHUNK[INT]")
#: Job parameter types and their `JobParameter` members (every type but task chunks).
JOB_PARAMETER_MEMBERS = {t: m for t, m in UNION_MEMBER_OF_TYPE.items() if t != "CHUNK[INT]"}
#: Task parameter types and their `TaskParameterValue` members.
TASK_PARAMETER_MEMBERS = {t: UNION_MEMBER_OF_TYPE[t] for t in _TASK_TYPES}
#: Task parameter types as GetStep's `parameterSpace` names them (`StepParameterType`).
STEP_PARAMETER_TYPE_NAMES = {t: t.replace("[", "_").replace("]", "") for t in _TASK_TYPES}
