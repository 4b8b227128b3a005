#!/usr/bin/env python3
"""Start kmock's Kubernetes emulator (PyPI `kmock`) on 127.0.0.1 for tests/kube_kmock.rs.

Usage: kmock_launch.py OBJECTS.json [GROUP/VERSION/PLURAL ...]
Creates each object of the JSON list through the API (POST), declares the listed resources so
that they list empty instead of 404, prints `ready PORT`, and serves until stdin closes (the
test holds the pipe, so the server dies with it).
"""
import asyncio
import json
import sys

import kmock

# Collection paths by kind; kmock infers resources from URLs, so only these are needed.
PLURALS = {
    "Deployment": "deployments",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "Pod": "pods",
    "PodMetrics": "pods",
}


def collection(obj):
    api_version = obj["apiVersion"]
    prefix = "/api/" + api_version if "/" not in api_version else "/apis/" + api_version
    ns = obj["metadata"]["namespace"]
    return f"{prefix}/namespaces/{ns}/{PLURALS[obj['kind']]}"


async def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        objects = json.load(f)
    async with kmock.KubernetesEmulator() as k8s, kmock.Server(k8s, host="127.0.0.1") as srv:
        for resource in sys.argv[2:]:
            k8s.resources[resource] = {}
        for obj in objects:
            resp = await srv.client.post(collection(obj), json=obj)
            if resp.status >= 300:
                print(f"create {obj['kind']} failed: {resp.status} {await resp.text()}", flush=True)
                sys.exit(1)
        print(f"ready {srv.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
