using System.Buffers.Binary;
using System.Diagnostics;
using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Protocol.JuteTestKit;

namespace Pipeline.ZooKeeper.Tests.Protocol;

/// <summary>
/// Random and mutated bytes from a "server": every decoder either decodes them or throws ZooKeeperProtocolException, and
/// finishes promptly. Seeded, so a failure reproduces; the failing frame is printed in hex.
/// </summary>
public sealed partial class DecoderFuzzTests
{
    private const int Seed = 0x5EED_2181;
    private const int FrameCount = 100_000;

    /// <summary>A liveness bound (no hang, no quadratic blow-up), not a performance claim.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private static readonly int[] InterestingInts =
    [
        0, 1, 2, 3, 4, 8, 9, 12, 16, 68, 127, 128, 255, 0xFFFF, 0xFFFFF, 0x100000,
        -1, -2, -3, -4, -101, -112, sbyte.MinValue, int.MinValue, int.MinValue + 1, int.MaxValue, int.MaxValue - 3, 0x7FFFFFF0,
    ];

    private static readonly byte[][] BadUtf8 =
    [
        [0xFF], [0xC3, 0x28], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80],
    ];

    private static readonly int[] ExtremeInts = [0, -1, -2, int.MinValue, int.MaxValue, 0x100000, 68, 0x7FFFFFF0];

    private delegate void FrameDecoder(ReadOnlySpan<byte> frame);

    private static readonly (string Name, FrameDecoder Decode)[] Decoders =
    [
        (nameof(EmptyResponse), Body<EmptyResponse>),
        (nameof(CreateResponse), Body<CreateResponse>),
        (nameof(Create2Response), Body<Create2Response>),
        (nameof(StatResponse), Body<StatResponse>),
        (nameof(GetDataResponse), Body<GetDataResponse>),
        (nameof(GetChildren2Response), Body<GetChildren2Response>),
        (nameof(GetAclResponse), Body<GetAclResponse>),
        (nameof(SyncResponse), Body<SyncResponse>),
        (nameof(MultiResponse), Body<MultiResponse>),
        (nameof(ConnectResponse), frame =>
        {
            var reader = new JuteReader(frame);
            _ = ConnectResponse.Read(ref reader);
        }),
        ("ReplyHeader+WatcherEventRecord", frame =>
        {
            // What Connection.Dispatch does with a notification frame.
            var reader = new JuteReader(frame);
            _ = ReplyHeader.Read(ref reader);
            _ = WatcherEventRecord.Read(ref reader);
            reader.EnsureEnd("notification");
        }),
        ("ReplyHeader+MultiResponse", frame =>
        {
            var reader = new JuteReader(frame);
            _ = ReplyHeader.Read(ref reader);
            _ = MultiResponse.Read(ref reader);
        }),
        ("ReplyHeader+GetDataResponse", frame =>
        {
            var reader = new JuteReader(frame);
            _ = ReplyHeader.Read(ref reader);
            _ = GetDataResponse.Read(ref reader);
        }),
    ];

    [Fact]
    public void Every_seed_decodes_cleanly_with_at_least_one_decoder()
    {
        foreach (var seed in Seeds())
        {
            Assert.True(OwnDecoders(seed).Length > 0, $"No decoder accepts the seed {Convert.ToHexString(seed)}.");
        }
    }

    [Fact]
    public void Mutated_and_random_frames_make_the_decoders_fail_only_with_protocol_exceptions()
    {
        // Each mutated frame goes to the decoders its seed is an encoding for (targeted: it gets past the first fields), every
        // fourth one also to a decoder at random (cross-fed); garbage goes to a decoder at random. Every frame to every decoder
        // is the next test, on fewer frames: it mostly exercises first fields, and each rejection costs an exception.
        var seeds = Seeds();
        var owners = seeds.Select(OwnDecoders).ToArray();
        var random = new Random(Seed);
        var fed = new int[Decoders.Length];
        var accepted = new int[Decoders.Length];
        var rejected = new int[Decoders.Length];
        var targets = new List<int>();
        var stopwatch = Stopwatch.StartNew();

        for (var i = 0; i < FrameCount; i++)
        {
            var source = random.Next(10) == 0 ? -1 : random.Next(seeds.Length);
            var frame = source < 0 ? Garbage(random) : Mutations(random, seeds[source]);
            targets.Clear();
            targets.AddRange(source < 0 ? [] : owners[source]);
            if (source < 0 || i % 4 == 0)
            {
                targets.Add(random.Next(Decoders.Length));
            }

            foreach (var d in targets)
            {
                var (name, decode) = Decoders[d];
                var error = Record.Exception(() => decode(frame));
                fed[d]++;
                if (error is null)
                {
                    accepted[d]++;
                }
                else if (error is ZooKeeperProtocolException)
                {
                    rejected[d]++;
                }
                else
                {
                    Assert.Fail($"{name} threw {error.GetType().Name} on frame #{i} ({frame.Length} bytes) {Convert.ToHexString(frame)}:\n{error}");
                }
            }
        }

        stopwatch.Stop();
        Assert.True(stopwatch.Elapsed < Bound, $"{FrameCount} frames took {stopwatch.Elapsed}.");

        // The fuzzing means something only if every decoder saw plenty of frames and both outcomes.
        for (var d = 0; d < Decoders.Length; d++)
        {
            Assert.True(fed[d] >= 5_000, $"{Decoders[d].Name} saw only {fed[d]} frames.");
            Assert.True(rejected[d] > 0, $"{Decoders[d].Name} rejected nothing.");
            Assert.True(accepted[d] > 0, $"{Decoders[d].Name} accepted nothing.");
        }
    }

    [Fact]
    public void A_sample_of_mutated_frames_fed_to_every_decoder_fails_only_with_protocol_exceptions()
    {
        var seeds = Seeds();
        var random = new Random(Seed + 3);
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < 5_000; i++)
        {
            var frame = random.Next(10) == 0 ? Garbage(random) : Mutations(random, seeds[random.Next(seeds.Length)]);
            foreach (var (name, decode) in Decoders)
            {
                var error = Record.Exception(() => decode(frame));
                Expect(error is null or ZooKeeperProtocolException, () => $"{name} threw {error?.GetType().Name} on {Convert.ToHexString(frame)}:\n{error}");
            }
        }

        Assert.True(stopwatch.Elapsed < Bound, $"Took {stopwatch.Elapsed}.");
    }

    [Fact]
    public void Lengths_and_counts_set_to_extreme_values_at_every_offset_are_protocol_errors_or_decode()
    {
        var stopwatch = Stopwatch.StartNew();
        foreach (var seed in Seeds())
        {
            var own = OwnDecoders(seed);
            for (var offset = 0; offset + 4 <= seed.Length; offset++)
            {
                var left = seed.Length - offset - 4;
                foreach (var value in (int[])[.. ExtremeInts, left - 1, left + 1])
                {
                    var frame = (byte[])seed.Clone();
                    BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(offset), value);
                    foreach (var (name, decode) in own.Select(d => Decoders[d]))
                    {
                        var error = Record.Exception(() => decode(frame));
                        Expect(error is null or ZooKeeperProtocolException, () => $"{name} threw {error?.GetType().Name} on {Convert.ToHexString(frame)}:\n{error}");
                    }
                }
            }
        }

        Assert.True(stopwatch.Elapsed < Bound, $"Took {stopwatch.Elapsed}.");
    }

    [Fact]
    public void Every_truncation_of_every_seed_is_a_protocol_error_for_its_own_decoder()
    {
        foreach (var seed in Seeds())
        {
            var own = OwnDecoders(seed);
            for (var length = 0; length < seed.Length; length++)
            {
                var frame = seed[..length];
                foreach (var (name, decode) in own.Select(d => Decoders[d]))
                {
                    var error = Record.Exception(() => decode(frame));

                    // A ConnectResponse may legitimately lose its optional trailing readOnly byte.
                    if (error is null && name == nameof(ConnectResponse) && length == seed.Length - 1)
                    {
                        continue;
                    }

                    Expect(error is ZooKeeperProtocolException, () => $"{name} gave {error?.GetType().Name ?? "no error"} on the truncation {Convert.ToHexString(frame)}.");
                }
            }
        }
    }

    private static void Body<T>(ReadOnlySpan<byte> frame)
        where T : IResponseRecord<T>
    {
        var reader = new JuteReader(frame);
        _ = T.Read(ref reader);
    }

    /// <summary>Like Assert.True, but the message (hex dumps, stack traces) is only built when the check fails.</summary>
    private static void Expect(bool condition, Func<string> message)
    {
        if (!condition)
        {
            Assert.Fail(message());
        }
    }

    /// <summary>The decoders that accept <paramref name="seed"/> as it is.</summary>
    private static int[] OwnDecoders(byte[] seed) =>
        [.. Enumerable.Range(0, Decoders.Length).Where(d => Record.Exception(() => Decoders[d].Decode(seed)) is null)];

    private static byte[] Garbage(Random random)
    {
        var garbage = new byte[random.Next(0, random.Next(2) == 0 ? 16 : 200)];
        random.NextBytes(garbage);
        return garbage;
    }

    /// <summary>One to four mutations stacked on a valid encoding.</summary>
    private static byte[] Mutations(Random random, byte[] seed)
    {
        var frame = seed;
        var mutations = 1 + random.Next(random.Next(2) == 0 ? 1 : 4);
        for (var m = 0; m < mutations; m++)
        {
            frame = Mutate(random, frame);
        }

        return frame;
    }

    private static byte[] Mutate(Random random, byte[] input)
    {
        var frame = (byte[])input.Clone();
        switch (random.Next(9))
        {
            case 0 when frame.Length > 0: // flip bits in 1..4 bytes
                for (var n = 1 + random.Next(4); n > 0; n--)
                {
                    frame[random.Next(frame.Length)] ^= (byte)(1 + random.Next(255));
                }

                return frame;
            case 1: // truncate
                return frame[..random.Next(frame.Length + 1)];
            case 2: // extend with random bytes
                var extension = new byte[1 + random.Next(random.Next(2) == 0 ? 4 : 64)];
                random.NextBytes(extension);
                return [.. frame, .. extension];
            case 3 when frame.Length >= 4: // a length, count, or type set to an interesting value
                var value = random.Next(3) == 0 ? random.Next(int.MinValue, int.MaxValue) : InterestingInts[random.Next(InterestingInts.Length)];
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(random.Next(frame.Length - 3)), value);
                return frame;
            case 4 when frame.Length >= 4: // a length relative to what is left: one too many or one too few
                var offset = random.Next(frame.Length - 3);
                var left = frame.Length - offset - 4;
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(offset), left + random.Next(-2, 3));
                return frame;
            case 5: // invalid UTF-8 spliced in
                var bad = BadUtf8[random.Next(BadUtf8.Length)];
                var at = random.Next(frame.Length + 1);
                return random.Next(2) == 0
                    ? [.. frame.AsSpan(0, at), .. bad, .. frame.AsSpan(at)]
                    : [.. frame.AsSpan(0, at), .. bad, .. frame.AsSpan(Math.Min(frame.Length, at + bad.Length))];
            case 6 when frame.Length > 0: // delete a run
                var from = random.Next(frame.Length);
                var count = 1 + random.Next(Math.Min(8, frame.Length - from));
                return [.. frame.AsSpan(0, from), .. frame.AsSpan(from + count)];
            case 7 when frame.Length > 0: // duplicate a run (repeated records, repeated multi results)
                var start = random.Next(frame.Length);
                var run = frame.AsSpan(start, 1 + random.Next(Math.Min(40, frame.Length - start)));
                return [.. frame.AsSpan(0, start), .. run, .. run, .. frame.AsSpan(start)];
            default: // splice the tail of another seed-shaped buffer
                var tail = new byte[random.Next(12)];
                random.NextBytes(tail);
                return [.. frame.AsSpan(0, random.Next(frame.Length + 1)), .. tail];
        }
    }
}
