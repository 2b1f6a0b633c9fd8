"""Storage profiles as the client library hands them out (`api.get_storage_profile_for_queue`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "FileSystemLocation",
    "FileSystemLocationType",
    "StorageProfile",
    "StorageProfileOperatingSystemFamily",
]


class FileSystemLocationType(StrEnum):
    SHARED = "SHARED"
    LOCAL = "LOCAL"


class StorageProfileOperatingSystemFamily(StrEnum):
    WINDOWS = "WINDOWS"
    LINUX = "LINUX"
    MACOS = "MACOS"


@dataclass
class FileSystemLocation:
    name: str
    path: str
    type: FileSystemLocationType


@dataclass
class StorageProfile:
    storageProfileId: str
    displayName: str
    osFamily: StorageProfileOperatingSystemFamily
    fileSystemLocations: list[FileSystemLocation] = field(default_factory=list)

    @classmethod
    def from_api(cls, answer: Mapping[str, Any]) -> StorageProfile:
        return cls(
            storageProfileId=str(answer["storageProfileId"]),
            displayName=str(answer["displayName"]),
            osFamily=StorageProfileOperatingSystemFamily(answer["osFamily"]),
            fileSystemLocations=[
                FileSystemLocation(str(loc["name"]), str(loc["path"]), FileSystemLocationType(loc["type"]))
                for loc in answer.get("fileSystemLocations") or []
            ],
        )

    def as_api(self) -> dict[str, Any]:
        """The GetStorageProfileForQueue shape the grouping and path-mapping functions read."""
        return {
            "storageProfileId": self.storageProfileId,
            "displayName": self.displayName,
            "osFamily": str(self.osFamily),
            "fileSystemLocations": [
                {"name": loc.name, "path": loc.path, "type": str(loc.type)}
                for loc in self.fileSystemLocations
            ],
        }
