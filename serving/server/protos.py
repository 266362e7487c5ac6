"""TF Serving's batching and monitoring config messages, which the tensorflow-serving-api wheel does not ship.

The wheel has `model_server_config_pb2` but not `session_bundle_config.proto` (BatchingParameters) nor
`monitoring_config.proto` (MonitoringConfig). They are rebuilt here with the same package, names, field
numbers and types as TF Serving 2.16's .proto files, so the text protos we write and read are exactly the
files `tensorflow_model_server --batching_parameters_file / --monitoring_config_file` reads.
"""
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import wrappers_pb2

_PACKAGE = "tensorflow.serving"
_F = descriptor_pb2.FieldDescriptorProto


def _field(name, number, kind, type_name=None, repeated=False):
  field = _F(name=name, number=number, type=kind,
             label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
  if type_name:
    field.type_name = type_name
  return field


def _build():
  pool = descriptor_pool.DescriptorPool()
  pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto.FromString(
      wrappers_pb2.DESCRIPTOR.serialized_pb).SerializeToString())
  int64_value, string_value, bool_value = (".google.protobuf.Int64Value", ".google.protobuf.StringValue",
                                           ".google.protobuf.BoolValue")
  batching = descriptor_pb2.FileDescriptorProto(
      name="tensorflow_serving/servables/tensorflow/session_bundle_config.proto", package=_PACKAGE,
      dependency=["google/protobuf/wrappers.proto"], syntax="proto3")
  batching.message_type.add(name="BatchingParameters", field=[
      _field("max_batch_size", 1, _F.TYPE_MESSAGE, int64_value),
      _field("batch_timeout_micros", 2, _F.TYPE_MESSAGE, int64_value),
      _field("max_enqueued_batches", 3, _F.TYPE_MESSAGE, int64_value),
      _field("num_batch_threads", 4, _F.TYPE_MESSAGE, int64_value),
      _field("thread_pool_name", 5, _F.TYPE_MESSAGE, string_value),
      _field("allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True),
      _field("pad_variable_length_inputs", 7, _F.TYPE_BOOL),
      _field("max_execution_batch_size", 8, _F.TYPE_MESSAGE, int64_value),
      _field("enable_large_batch_splitting", 9, _F.TYPE_MESSAGE, bool_value),
  ])
  monitoring = descriptor_pb2.FileDescriptorProto(
      name="tensorflow_serving/config/monitoring_config.proto", package=_PACKAGE, syntax="proto3")
  monitoring.message_type.add(name="PrometheusConfig", field=[
      _field("enable", 1, _F.TYPE_BOOL), _field("path", 2, _F.TYPE_STRING)])
  monitoring.message_type.add(name="MonitoringConfig", field=[
      _field("prometheus_config", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.PrometheusConfig")])
  pool.Add(batching)
  pool.Add(monitoring)
  factory = message_factory.MessageFactory(pool)
  return tuple(factory.GetPrototype(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
               for name in ("BatchingParameters", "MonitoringConfig"))


BatchingParameters, MonitoringConfig = _build()
