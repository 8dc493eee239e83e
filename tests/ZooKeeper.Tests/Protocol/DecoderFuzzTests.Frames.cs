using System.Buffers.Binary;
using System.Diagnostics;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// The frame layer under fuzz: a <see cref="FrameReader"/> over random and damaged streams returns the frames that are
/// there, then either a clean null at the end of the stream or a ZooKeeperProtocolException, never anything else.
/// </summary>
public sealed partial class DecoderFuzzTests
{
    private const int MaxFrameSize = 0xFFFFF;
    private const int StreamCount = 10_000;

    private enum Ending
    {
        Clean,
        NegativeLength,
        OversizeLength,
        TruncatedPrefix,
        TruncatedPayload,
    }

    [Fact]
    public async Task Frame_reader_over_well_formed_streams_with_a_damaged_end_returns_exactly_the_frames_then_null_or_a_protocol_error()
    {
        var random = new Random(Seed + 1);
        var stopwatch = Stopwatch.StartNew();
        var endings = new int[Enum.GetValues<Ending>().Length];

        for (var i = 0; i < StreamCount; i++)
        {
            var (bytes, frames, ending) = StructuredStream(random);
            endings[(int)ending]++;
            var reader = new FrameReader(SplitStream(random, bytes), MaxFrameSize);
            var context = $"stream #{i} ({ending}, {frames.Count} frames, {bytes.Length} bytes)";

            foreach (var expected in frames)
            {
                var frame = await reader.ReadFrameAsync(CancellationToken.None) ?? throw new Xunit.Sdk.XunitException($"{context}: a frame is missing.");
                Expect(expected.AsSpan().SequenceEqual(frame.Span), () => $"{context}: a frame differs.");
            }

            if (ending == Ending.Clean)
            {
                Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
                Assert.Null(await reader.ReadFrameAsync(CancellationToken.None));
            }
            else
            {
                var error = await Record.ExceptionAsync(async () => await reader.ReadFrameAsync(CancellationToken.None));
                Expect(error is ZooKeeperProtocolException, () => $"{context}: expected a protocol error, got {error?.ToString() ?? "none"}.");
            }
        }

        Assert.True(stopwatch.Elapsed < Bound, $"{StreamCount} streams took {stopwatch.Elapsed}.");
        Assert.All(endings, count => Assert.True(count > 0));
    }

    [Fact]
    public async Task Frame_reader_over_random_garbage_yields_only_frames_within_the_limit_null_or_a_protocol_error()
    {
        var random = new Random(Seed + 2);
        var stopwatch = Stopwatch.StartNew();
        var outcomes = (Clean: 0, Rejected: 0, Frames: 0);

        for (var i = 0; i < StreamCount; i++)
        {
            var maxFrameSize = random.Next(3) switch { 0 => 0, 1 => 1024, _ => MaxFrameSize };
            var bytes = GarbageStream(random);
            var reader = new FrameReader(SplitStream(random, bytes), maxFrameSize);
            var frames = 0;
            var error = await Record.ExceptionAsync(async () =>
            {
                while (await reader.ReadFrameAsync(CancellationToken.None) is { } frame)
                {
                    Assert.InRange(frame.Length, 0, maxFrameSize);

                    // Every frame consumes at least its 4-byte prefix: more frames than that is a loop that never ends.
                    Expect(++frames <= (bytes.Length / 4) + 1, () => $"stream #{i}: too many frames from {bytes.Length} bytes.");
                }
            });

            if (error is null)
            {
                outcomes.Clean++;
            }
            else
            {
                Expect(error is ZooKeeperProtocolException, () => $"stream #{i} {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 256)))}: {error}");
                outcomes.Rejected++;
            }

            outcomes.Frames += frames;
        }

        Assert.True(stopwatch.Elapsed < Bound, $"{StreamCount} streams took {stopwatch.Elapsed}.");
        Assert.True(outcomes.Clean > 0 && outcomes.Rejected > 0 && outcomes.Frames > 0, $"Degenerate fuzzing: {outcomes}.");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-2)]
    [InlineData(int.MinValue)]
    [InlineData(MaxFrameSize + 1)]
    [InlineData(0x7FFFFFFC)]
    [InlineData(int.MaxValue)]
    public async Task Frame_lengths_outside_zero_to_max_are_refused_before_reading_the_payload(int length)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, length);
        var reader = new FrameReader(new MemoryStream(bytes), MaxFrameSize);

        await Assert.ThrowsAsync<ZooKeeperProtocolException>(async () => await reader.ReadFrameAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(int.MaxValue - 1)]
    [InlineData(int.MaxValue - 3)]
    public async Task Huge_lengths_under_an_unbounded_limit_are_protocol_errors_not_crashes(int length)
    {
        // Options cap MaxFrameSize at 64 MiB; even a reader built with no cap must refuse lengths that would overflow.
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt32BigEndian(bytes, length);
        var reader = new FrameReader(new MemoryStream(bytes), int.MaxValue);

        var error = await Record.ExceptionAsync(async () => await reader.ReadFrameAsync(CancellationToken.None));
        Assert.IsType<ZooKeeperProtocolException>(error);
    }

    private static (byte[] Bytes, List<byte[]> Frames, Ending Ending) StructuredStream(Random random)
    {
        var output = new MemoryStream();
        var frames = new List<byte[]>();
        for (var n = random.Next(6); n > 0; n--)
        {
            var payload = new byte[random.Next(100) switch
            {
                < 10 => 0,
                < 80 => random.Next(1, 200),
                < 99 => random.Next(200, 2_000),
                _ => random.Next(60_000, 140_000), // larger than the reader's initial 64 KiB buffer
            }];
            Fill(random, payload);
            WriteInt(output, payload.Length);
            output.Write(payload);
            frames.Add(payload);
        }

        var ending = (Ending)random.Next(Enum.GetValues<Ending>().Length);
        switch (ending)
        {
            case Ending.NegativeLength:
                WriteInt(output, random.Next(2) == 0 ? -1 - random.Next(4) : random.Next(int.MinValue, 0));
                break;
            case Ending.OversizeLength:
                WriteInt(output, random.Next(2) == 0 ? MaxFrameSize + 1 : random.Next(MaxFrameSize + 1, int.MaxValue));
                output.Write(new byte[random.Next(16)]);
                break;
            case Ending.TruncatedPrefix:
                output.Write(new byte[1 + random.Next(3)]);
                break;
            case Ending.TruncatedPayload:
                var length = 1 + random.Next(500);
                WriteInt(output, length);
                output.Write(new byte[random.Next(length)]);
                break;
            default:
                break;
        }

        return (output.ToArray(), frames, ending);
    }

    private static byte[] GarbageStream(Random random)
    {
        var output = new MemoryStream();
        for (var n = 1 + random.Next(5); n > 0; n--)
        {
            switch (random.Next(4))
            {
                case 0: // a valid small frame
                    var payload = new byte[random.Next(64)];
                    random.NextBytes(payload);
                    WriteInt(output, payload.Length);
                    output.Write(payload);
                    break;
                case 1: // an interesting length with whatever follows
                    WriteInt(output, InterestingInts[random.Next(InterestingInts.Length)]);
                    break;
                default: // raw garbage
                    var garbage = new byte[random.Next(24)];
                    random.NextBytes(garbage);
                    output.Write(garbage);
                    break;
            }
        }

        return output.ToArray();
    }

    /// <summary>The same bytes, read whole, one byte at a time, or in random chunks (only small streams go byte by byte).</summary>
    private static Stream SplitStream(Random random, byte[] bytes) => random.Next(4) switch
    {
        0 => new MemoryStream(bytes),
        1 when bytes.Length < 2_000 => new ChunkedReadStream(bytes),
        2 when bytes.Length < 8_000 => new ChunkedReadStream(bytes, 7, random),
        _ => new ChunkedReadStream(bytes, 4096, random),
    };

    /// <summary>Random bytes; a big payload gets a cheap pattern from a random start instead (seeded Random is slow per byte).</summary>
    private static void Fill(Random random, byte[] payload)
    {
        if (payload.Length <= 4_096)
        {
            random.NextBytes(payload);
            return;
        }

        var value = random.Next();
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((value + i) * 0x9E3779B1 >> 24);
        }
    }

    private static void WriteInt(Stream stream, int value)
    {
        Span<byte> prefix = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, value);
        stream.Write(prefix);
    }
}
