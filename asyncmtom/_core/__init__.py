"""The sans-I/O core: every rule of the wire, as pure logic.

Rule.  Nothing in this package performs I/O or waits: no ``anyio``, ``os``,
``asyncio`` or ``trio`` import, no ``async def``, no ``await``.  Bytes and
calls go in, bytes and events come out; the anyio shell around it
(``asyncmtom._message``, ``asyncmtom._streaming``, ``asyncmtom._writer``,
``asyncmtom._body``, ``asyncmtom._pass``, ``asyncmtom._sources``) owns sources, files, time and
cancellation.  So every rule (XML serialization, base64, MIME framing, XOP
planning, the coalescing of chunks, multipart parsing) can be tested without
an event loop.  Each module opens with the rules it enforces.
"""
