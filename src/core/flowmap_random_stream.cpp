/* ----------------------------------------------------------------------
   USER-FLOWMAP: a random stream whose whole state can be saved and restored.
------------------------------------------------------------------------- */

#include "flowmap_random_stream.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace flowmap {

RandomStream::RandomStream(std::uint64_t seed, std::uint64_t stream)
{
  std::seed_seq sequence{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                         static_cast<std::uint32_t>(stream),
                         static_cast<std::uint32_t>(stream >> 32)};
  engine_.seed(sequence);
}

double RandomStream::uniform()
{
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double RandomStream::normal()
{
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double radius = std::sqrt(-2.0 * std::log1p(-uniform()));    // log(1 - u), u < 1
  return radius * std::cos(kTwoPi * uniform());
}

std::string RandomStream::state() const
{
  std::ostringstream s;
  s << engine_;
  return s.str();
}

void RandomStream::restore(const std::string &state)
{
  std::istringstream s(state);
  std::mt19937_64 engine;
  s >> engine;
  if (s.fail()) throw std::invalid_argument("not a state of the random stream");
  s >> std::ws;
  if (!s.eof()) throw std::invalid_argument("not a state of the random stream");
  engine_ = engine;
}

}    // namespace flowmap
