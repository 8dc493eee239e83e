using System.Buffers.Binary;
using System.Text;

namespace Pipeline.ZooKeeper.Protocol;

/// <summary>
/// Reads jute's binary encoding from a span. Every malformed input (truncated field, negative or oversized length, invalid
/// UTF-8) ends in a <see cref="ZooKeeperProtocolException"/>, never in another exception type.
/// </summary>
public ref struct JuteReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ReadOnlySpan<byte> data;
    private int position;

    public JuteReader(ReadOnlySpan<byte> data)
    {
        this.data = data;
        position = 0;
    }

    public readonly int Position => position;

    public readonly int Remaining => data.Length - position;

    public byte ReadByte() => Take(1)[0];

    public bool ReadBool() => ReadByte() != 0;

    public int ReadInt() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public long ReadLong() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public string? ReadString()
    {
        var length = ReadLength("ustring");
        if (length < 0)
        {
            return null;
        }

        var bytes = Take(length);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new ZooKeeperProtocolException($"A ustring at offset {position - length} is not valid UTF-8.", ex);
        }
    }

    /// <summary>A ustring the protocol never sends as null (paths, names).</summary>
    public string ReadRequiredString(string field) =>
        ReadString() ?? throw new ZooKeeperProtocolException($"The field {field} is null where the protocol requires a value.");

    public byte[]? ReadBuffer()
    {
        var length = ReadLength("buffer");
        return length < 0 ? null : Take(length).ToArray();
    }

    public List<string>? ReadStringVector()
    {
        var count = ReadLength("vector");
        if (count < 0)
        {
            return null;
        }

        // Each element takes at least 4 bytes: a count larger than that is a lie, refused before allocating for it.
        if (count > Remaining / 4)
        {
            throw new ZooKeeperProtocolException($"A vector claims {count} elements with only {Remaining} bytes left.");
        }

        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            list.Add(ReadRequiredString("vector element"));
        }

        return list;
    }

    /// <summary>Fails unless the record was read to its last byte: trailing garbage means the frame was not what we thought.</summary>
    public readonly void EnsureEnd(string record)
    {
        if (Remaining != 0)
        {
            throw new ZooKeeperProtocolException($"{record} has {Remaining} unexpected trailing bytes.");
        }
    }

    /// <summary>A vector element count a record can hold with the bytes left, given each element's minimum size.</summary>
    public int ReadCount(string what, int minElementBytes)
    {
        var count = ReadLength(what);
        if (count < 0)
        {
            return -1;
        }

        if (count > Remaining / minElementBytes)
        {
            throw new ZooKeeperProtocolException($"A {what} claims {count} elements with only {Remaining} bytes left.");
        }

        return count;
    }

    private int ReadLength(string what)
    {
        var length = ReadInt();
        if (length < -1)
        {
            throw new ZooKeeperProtocolException($"A {what} has the negative length {length}.");
        }

        if (length > Remaining)
        {
            throw new ZooKeeperProtocolException($"A {what} claims {length} bytes with only {Remaining} left.");
        }

        return length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > data.Length - position)
        {
            throw new ZooKeeperProtocolException($"The record is truncated: {count} bytes wanted at offset {position}, {data.Length - position} left.");
        }

        var span = data.Slice(position, count);
        position += count;
        return span;
    }
}
