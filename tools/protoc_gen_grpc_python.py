"""A protoc plugin that runs grpcio-tools' built-in gRPC Python generator.

grpcio-tools compiles its gRPC generator into its own protoc (`--grpc_python_out`)
and ships no `protoc-gen-grpc_python` executable, so buf cannot call it directly.
This shim reads buf's CodeGeneratorRequest, hands the same descriptors to
grpcio-tools' protoc, and returns what it wrote. The output is therefore exactly
what `python -m grpc_tools.protoc --grpc_python_out` produces.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = pathlib.Path(tmp)
        descriptor_set = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        (tmpdir / "in.pb").write_bytes(descriptor_set.SerializeToString())
        out = tmpdir / "out"
        out.mkdir()
        args = ["grpc_tools.protoc", f"--descriptor_set_in={tmpdir / 'in.pb'}"]
        if request.parameter:
            args.append(f"--grpc_python_opt={request.parameter}")
        args += [f"--grpc_python_out={out}", *request.file_to_generate]
        if protoc.main(args) != 0:
            response.error = "grpc_tools.protoc failed; see its output above"
        else:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    response.file.add(name=str(path.relative_to(out)), content=path.read_text())
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
