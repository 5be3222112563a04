"""Software categories drive third-party scope coverage."""

import pytest

from inventory.categories import categorise


@pytest.mark.parametrize(
    "kind,name,vendor,expected",
    [
        ("program", "Google Chrome", "Google LLC", "browser"),
        ("program", "Microsoft Edge", "Microsoft Corporation", "browser"),
        ("app", "Firefox", "", "browser"),
        ("deb", "firefox", "", "browser"),
        ("program", "Adobe Acrobat (64-bit)", "Adobe", "pdf_tool"),
        ("program", "Foxit PDF Reader", "Foxit Software Inc.", "pdf_tool"),
        ("program", "AnyDesk", "philandro Software GmbH", "remote_access"),
        ("program", "ScreenConnect Client (abc)", "ConnectWise", "remote_access"),
        ("deb", "openjdk-17-jre-headless", "", "java"),
        ("program", "Java 8 Update 401 (64-bit)", "Oracle Corporation", "java"),
        ("program", "Eclipse Temurin JDK with Hotspot 21", "Eclipse Adoptium", "java"),
        ("program", "eClinicalWorks Client", "eClinicalWorks", "line_of_business"),
        ("program", "QuickBooks Desktop Pro 2024", "Intuit Inc.", "line_of_business"),
        ("hotfix", "KB5036893", "Microsoft", "os_update"),
        ("deb", "libssl3", "", "os_package"),
        ("rpm", "bash", "Red Hat, Inc.", "os_package"),
        ("program", "7-Zip 23.01 (x64)", "Igor Pavlov", "other"),
    ],
)
def test_categorise(kind, name, vendor, expected):
    assert categorise(kind=kind, name=name, vendor=vendor) == expected
