"""The W3C xmime schema, answered locally when a WSDL imports it.

Metro, CXF and .NET import the xmime schema by its namespace URL in every
MTOM WSDL.  The schema ships with the package as data (``xmime.xsd``) and the
transports answer those URLs from it, so a WSDL loads without reaching
www.w3.org.
"""

from __future__ import annotations

from importlib.resources import files

#: The W3C schema of the xmime namespace ("Describing Media Content of Binary
#: Data in XML", W3C Working Group Note, 4 May 2005).  Metro, CXF and .NET
#: import it by its namespace URL in every MTOM WSDL; `MtomTransport` answers
#: that URL from here, so a WSDL loads without reaching www.w3.org.
XMIME_SCHEMA: bytes = files(__package__).joinpath("xmime.xsd").read_bytes()

BUNDLED = {
    "http://www.w3.org/2005/05/xmlmime": XMIME_SCHEMA,
    "https://www.w3.org/2005/05/xmlmime": XMIME_SCHEMA,
    "http://www.w3.org/2005/05/xmlmime/": XMIME_SCHEMA,
}
