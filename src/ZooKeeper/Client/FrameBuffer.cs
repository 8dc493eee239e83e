using System.Buffers;
using System.Buffers.Binary;

namespace Pipeline.ZooKeeper.Client;

/// <summary>A reusable, growable output buffer that frames records: a 4-byte big-endian length, then the payload.</summary>
internal sealed class FrameBuffer : IBufferWriter<byte>
{
    private byte[] buffer;
    private int written;

    public FrameBuffer(int initialCapacity = 64 * 1024) => buffer = new byte[initialCapacity];

    public int WrittenCount => written;

    public ReadOnlyMemory<byte> WrittenMemory => buffer.AsMemory(0, written);

    public void Clear() => written = 0;

    /// <summary>Drops everything written from <paramref name="position"/> on.</summary>
    public void Truncate(int position) => written = position;

    /// <summary>Starts a frame: reserves its length prefix and returns where it starts.</summary>
    public int BeginFrame()
    {
        var start = written;
        GetSpan(4);
        written += 4;
        return start;
    }

    /// <summary>Ends the frame begun at <paramref name="start"/>: writes its payload length into the prefix.</summary>
    public int EndFrame(int start)
    {
        var length = written - start - 4;
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(start, 4), length);
        return length;
    }

    public void Advance(int count) => written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return buffer.AsMemory(written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return buffer.AsSpan(written);
    }

    private void Ensure(int sizeHint)
    {
        var needed = written + Math.Max(sizeHint, 16);
        if (needed > buffer.Length)
        {
            Array.Resize(ref buffer, Math.Max(needed, buffer.Length * 2));
        }
    }
}
