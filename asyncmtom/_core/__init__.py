"""The sans-I/O core: every rule of the wire, as pure logic.

Rule.  Nothing in this package performs I/O or waits: no ``anyio``, ``os``,
``asyncio`` or ``trio`` import, no ``async def``, no ``await``.  Bytes and
calls go in, bytes and events come out; the anyio shell around it
(``asyncmtom._message``, ``asyncmtom._streaming``, the writer) owns sources,
files, time and cancellation.  Each module opens with the rules it enforces.
"""
