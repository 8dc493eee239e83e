using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Pipeline.ZooKeeper.Protocol;

/// <summary>
/// Writes jute's binary encoding (big-endian, length-prefixed strings, buffers and vectors, -1 for null) straight into an
/// <see cref="IBufferWriter{T}"/>: no per-field allocation.
/// </summary>
public ref struct JuteWriter
{
    private readonly IBufferWriter<byte> output;

    public JuteWriter(IBufferWriter<byte> output) => this.output = output;

    public readonly void WriteByte(byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    public readonly void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public readonly void WriteInt(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), value);
        output.Advance(4);
    }

    public readonly void WriteLong(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(output.GetSpan(8), value);
        output.Advance(8);
    }

    /// <summary>A ustring: null is length -1, the empty string length 0 (the two differ on the server).</summary>
    public readonly void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(value);
        var span = output.GetSpan(4 + length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        Encoding.UTF8.GetBytes(value, span[4..]);
        output.Advance(4 + length);
    }

    /// <summary>A buffer; <paramref name="isNull"/> writes -1 (jute's null), otherwise the bytes with their length.</summary>
    public readonly void WriteBuffer(ReadOnlySpan<byte> value, bool isNull = false)
    {
        if (isNull)
        {
            WriteInt(-1);
            return;
        }

        var span = output.GetSpan(4 + value.Length);
        BinaryPrimitives.WriteInt32BigEndian(span, value.Length);
        value.CopyTo(span[4..]);
        output.Advance(4 + value.Length);
    }

    public readonly void WriteBuffer(byte[]? value) => WriteBuffer(value, value is null);

    public readonly void WriteStringVector(IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            WriteInt(-1);
            return;
        }

        WriteInt(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            WriteString(values[i]);
        }
    }
}
