"""Drives an MCP server through the official MCP Python SDK (PyPI `mcp`),
as an MCP host would: connect (its default `auto` mode probes
`server/discover`, then falls back to the `initialize` handshake, or
`legacy`: the handshake only), list the tools, call them, and report what
the SDK made of each answer as one JSON object on stdout.

Usage: python3 mcp_client.py URL MODE CALLS_JSON
CALLS_JSON: [[tool, arguments], ...]; each call's result, or the MCPError
it raised, is reported in order.
"""

import asyncio
import json
import sys

from mcp import Client, MCPError


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main(url, mode, calls):
    report = {}
    async with Client(url, mode=mode) as client:
        report["protocolVersion"] = client.protocol_version
        report["serverInfo"] = dump(client.server_info)
        report["instructions"] = client.instructions
        report["tools"] = [dump(tool) for tool in (await client.list_tools()).tools]
        results = []
        for name, arguments in calls:
            try:
                results.append({"result": dump(await client.call_tool(name, arguments))})
            except MCPError as error:
                results.append({"error": {"code": error.code, "message": error.error.message}})
        report["calls"] = results
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
